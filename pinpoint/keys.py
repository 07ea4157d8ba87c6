"""Keys in encrypted key files instead of argv: `pinpoint account new|import|list` and `--account NAME`.

A key file is the Ethereum keystore (v3, scrypt) format that geth, ape and most wallets use. Accounts are
looked up by name in Pinpoint's folder (`~/.pinpoint/keys`, or PINPOINT_KEYSTORE_DIR) and then in ape's
(`~/.ape/accounts`), so an account made with `ape accounts generate` works as it is. The password comes from
PINPOINT_ACCOUNT_PASSWORD (for services) or is asked on the terminal.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from pathlib import Path

from eth_account import Account


class AccountError(ValueError):
    """An account that is missing, misnamed or cannot be decrypted; the message says what to do."""


PASSWORD_VARIABLE = "PINPOINT_ACCOUNT_PASSWORD"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def keystore_dir() -> Path:
    return Path(os.environ.get("PINPOINT_KEYSTORE_DIR") or Path.home() / ".pinpoint" / "keys")


def search_dirs() -> list[Path]:
    return [keystore_dir(), Path(os.environ.get("APE_DATA_FOLDER") or Path.home() / ".ape") / "accounts"]


def key_file(name: str) -> Path | None:
    """The key file of account `name`, or None."""
    check_name(name)
    return next((path for folder in search_dirs() if (path := folder / f"{name}.json").is_file()), None)


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise AccountError(f"account name {name!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a "
                        "letter or digit")


def accounts() -> list[dict]:
    """Every account found: name, address, file."""
    found, seen = [], set()
    for folder in search_dirs():
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            if path.stem in seen:
                continue
            try:
                address = json.loads(path.read_text())["address"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            seen.add(path.stem)
            found.append({"name": path.stem, "address": "0x" + address.lower().removeprefix("0x"), "file": str(path)})
    return found


def password(prompt: str, confirm: bool = False) -> str:
    if (given := os.environ.get(PASSWORD_VARIABLE)) is not None:
        return given
    if not sys.stdin.isatty():
        raise AccountError(f"no password: set {PASSWORD_VARIABLE} or run this on a terminal")
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def save(name: str, private_key: str, secret: str) -> dict:
    """Encrypt `private_key` into a new key file for `name`; refuses to overwrite one."""
    check_name(name)
    if key_file(name) is not None:
        raise AccountError(f"an account named {name!r} exists ({key_file(name)}); choose another name")
    try:
        address = Account.from_key(private_key).address
        encrypted = Account.encrypt(private_key, secret)
    except (ValueError, TypeError) as exc:
        raise AccountError(f"not a private key ({exc}): 0x followed by 64 hex digits") from None
    folder = keystore_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{name}.json"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:  # never world-readable
        json.dump(encrypted, out)
    return {"name": name, "address": address, "file": str(path)}


def load(name: str, secret: str | None = None) -> str:
    """The private key of account `name` (0x hex), decrypted with `secret` or the password asked for."""
    path = key_file(name)
    if path is None:
        known = ", ".join(a["name"] for a in accounts()) or "none"
        raise AccountError(f"no account named {name!r} (known: {known}); make one with `pinpoint account new {name}` "
                        f"or `pinpoint account import {name}`")
    secret = password(f"password of account {name}: ") if secret is None else secret
    try:
        return "0x" + bytes(Account.decrypt(json.loads(path.read_text()), secret)).hex()
    except ValueError as exc:
        raise AccountError(f"cannot decrypt account {name!r} ({path}): {exc}") from None


def private_key(settings, key: str | None = None, account: str | None = None) -> str | None:
    """The key a command signs with: `--key`, else `--account`, else PINPOINT_PRIVATE_KEY, else PINPOINT_ACCOUNT."""
    if key:
        return key
    if account:
        return load(account)
    if settings.private_key:
        return settings.private_key
    return load(settings.account) if getattr(settings, "account", None) else None
