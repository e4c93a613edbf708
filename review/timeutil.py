"""Times are stored as aware UTC and shown in China Standard Time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")
_EIGHT_HOURS = timedelta(hours=8)


def now() -> datetime:
    return datetime.now(timezone.utc)


def to_local(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(CST)


def fmt(dt: datetime | None) -> str:
    """'2026-11-27 10:30' in China time. Lists show one or two a row: for UTC (naive, as SQLite
    returns it, or aware) eight hours added and C's isoformat cost a third of astimezone + strftime."""
    if dt is None:
        return ""
    if dt.tzinfo is None or dt.tzinfo is timezone.utc:
        return (dt + _EIGHT_HOURS).isoformat(" ", "minutes")[:16]
    return dt.astimezone(CST).isoformat(" ", "minutes")[:16]


def parse_local(value: str) -> datetime:
    """Parse a time typed in China time ('2026-11-27 10:30', or the ISO 'T' form
    a datetime-local input sends) to aware UTC."""
    value = value.strip().replace("T", " ")
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            local = datetime.strptime(value, pattern).replace(tzinfo=CST)
        except ValueError:
            continue
        return local.astimezone(timezone.utc)
    raise ValueError(value)
