"""Strict parsing of values that arrive as form strings or JSON."""
from __future__ import annotations


def as_int(value) -> int | None:
    """An int (not a bool, not a fraction) or a string of digits; otherwise None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
