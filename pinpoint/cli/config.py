"""`pinpoint config`: the settings every command uses, and where they come from.

    pinpoint config show               # effective settings (environment > .env > profile > defaults)
    pinpoint --profile testnet config show
    pinpoint config path               # the config file: a TOML table per profile (pinpoint/settings.py)
"""

from __future__ import annotations

import argparse
import json
import os

from pinpoint.cli.errors import guarded
from pinpoint.settings import Settings, config_file

SECRET = ("private_key",)


def build_parser(prog: str = "pinpoint config") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show", help="the effective settings (secrets masked)").add_argument(
        "--json", action="store_true", help="machine-readable output")
    sub.add_parser("path", help="where the config file is read from")
    return parser


def main(argv: list[str] | None = None, prog: str = "pinpoint config") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)

    def run() -> int:
        if args.command == "path":
            print(config_file())
            return 0
        values = Settings().model_dump(mode="json")
        for name in SECRET:
            if values.get(name):
                values[name] = "(set)"
        if args.json:
            print(json.dumps(values))
            return 0
        print(f"profile {os.environ.get('PINPOINT_PROFILE', 'default')} of {config_file()}"
              f"{'' if config_file().exists() else ' (no such file: defaults and environment only)'}")
        for name, value in values.items():
            print(f"  {name:<26} {value}")
        return 0

    return guarded(prog, run)
