"""Strict parsing of values that arrive as form strings or JSON."""
from __future__ import annotations

MAX_ID = 2**31 - 1  # ids are INTEGER columns (32-bit on PostgreSQL)


def as_int(value) -> int | None:
    """An int (not a bool, not a fraction) or a string of digits that fits a
    database INTEGER column (32-bit); otherwise None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and -MAX_ID <= value <= MAX_ID:
        return value
    return None
