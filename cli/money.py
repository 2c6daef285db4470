"""Money is integer micro-dollars (1 USD = 1,000,000): shown and read with integer arithmetic only."""

from __future__ import annotations

import re

MICROS_PER_DOLLAR = 1_000_000
_DOLLARS = re.compile(r"^\s*\$?\s*(\d{1,12})(?:\.(\d{0,6}))?\s*$")


def format_micros(micros: int) -> str:
    """$1,234.50, $0.0085, -$0.0255: at least cents, more digits only when the amount has them."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), MICROS_PER_DOLLAR)
    digits = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole:,}.{digits}"


def parse_dollars(text: str) -> int:
    """'12.5' or '$12.50' -> 12_500_000; more than six decimals is refused, never rounded."""
    match = _DOLLARS.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not an amount in dollars (up to 6 decimals)")
    whole, fraction = match.group(1), (match.group(2) or "").ljust(6, "0")
    return int(whole) * MICROS_PER_DOLLAR + int(fraction)
