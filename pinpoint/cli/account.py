"""`pinpoint account`: keys kept in encrypted key files, used by name (`--account NAME` or PINPOINT_ACCOUNT).

    pinpoint account new alice              # a fresh key; asks for a password (or PINPOINT_ACCOUNT_PASSWORD)
    pinpoint account import alice           # a key you have: typed hidden, or piped on stdin; never in argv
    pinpoint account list                   # names and addresses (ape's accounts too)
    pinpoint job submit job.json --max-price 0.05 --account alice
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from eth_account import Account

from pinpoint import keys
from pinpoint.cli.errors import guarded


def build_parser(prog: str = "pinpoint account") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("new", help="generate a key and save it encrypted").add_argument("name")
    sub.add_parser("import", help="save a key you have, encrypted (read hidden from the terminal or stdin)").add_argument("name")
    listing = sub.add_parser("list", help="the accounts found, with their addresses")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: list[str] | None = None, prog: str = "pinpoint account") -> int:
    args = build_parser(prog).parse_args(argv)

    def run() -> int:
        if args.command == "list":
            found = keys.accounts()
            if args.json:
                print(json.dumps(found))
            for account in [] if args.json else found:
                print(f"{account['name']:<20} {account['address']}  {account['file']}")
            if not found and not args.json:
                print(f"no accounts in {', '.join(map(str, keys.search_dirs()))}; make one with `{prog} new NAME`")
            return 0
        keys.check_name(args.name)
        if args.command == "new":
            private_key = "0x" + bytes(Account.create().key).hex()
        else:
            private_key = (getpass.getpass("private key (hidden): ") if sys.stdin.isatty()
                           else sys.stdin.readline()).strip()
        saved = keys.save(args.name, private_key, keys.password(f"password for {args.name}: ", confirm=True))
        print(f"saved account {saved['name']} ({saved['address']}) to {saved['file']}")
        return 0

    return guarded(prog, run)
