"""Amounts of ether, parsed and shown one way everywhere: exact decimals, never floats, never bare wei.

    parse_eth("0.05")      -> 50000000000000000   (wei)
    format_eth(5 * 10**16) -> "0.05 ETH"
    format_eth(1)          -> "0.000000000000000001 ETH"
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation, localcontext

WEI_PER_ETH = 10**18


def parse_eth(text: str | int | Decimal, allow_zero: bool = False) -> int:
    """Wei in `text` ether ("0.05", "1e-3", "2 ETH"); ValueError saying why for anything else: not a number,
    negative, zero (unless allowed), or finer than one wei."""
    raw = str(text).strip()
    number = raw[:-3].strip() if raw.upper().endswith("ETH") else raw
    try:
        with localcontext() as exact:
            exact.prec = 200  # the default 28 digits would round amounts above 10^10 ether
            wei = Decimal(number) * WEI_PER_ETH
    except InvalidOperation:
        raise ValueError(f"not an amount of ether: {raw!r} (write e.g. 0.05)") from None
    if not wei.is_finite():
        raise ValueError(f"not an amount of ether: {raw!r}")
    if wei < 0 or (wei == 0 and not allow_zero):
        raise ValueError(f"amount must be {'zero or more' if allow_zero else 'more than zero'} ether: {raw}")
    if wei != wei.to_integral_value():
        raise ValueError(f"amount has more than 18 decimals (finer than one wei): {raw}")
    return int(wei)


def format_eth(wei: int | str | None, sign: bool = False) -> str:
    """'1.5 ETH' for 1.5e18 wei, exactly (no rounding, no exponent); '-' for None; '+'/'-' with `sign`."""
    if wei is None:
        return "-"
    wei = int(wei)
    whole, fraction = divmod(abs(wei), WEI_PER_ETH)
    digits = f"{whole}" + (f".{fraction:018d}".rstrip("0") if fraction else "")
    prefix = "-" if wei < 0 else ("+" if sign else "")
    return f"{prefix}{digits} ETH"


def ether(text: str) -> int:
    """argparse type for an amount of ether: wei, or the reason it is not one, for the usage error."""
    try:
        return parse_eth(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
