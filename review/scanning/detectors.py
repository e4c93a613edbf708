"""Built-in detectors: personal data (category ``pii``) and hidden
direction controls (category ``hidden``, :func:`direction_controls`).

Each detector returns ``(rule, start, end)`` spans into the original text.
Numbers are only reported when their check digits are right, so that order
numbers, dates and other digit strings are not flagged.

Digits are ASCII only for now; full-width digits are the business of the
normalisation step that a later version puts in front of matching.
"""
from __future__ import annotations

import bisect
import re
from datetime import date
from functools import lru_cache

RULE_ID = "pii:id_number"
RULE_MOBILE = "pii:mobile"
RULE_CARD = "pii:bank_card"
RULE_EMAIL = "pii:email"

# --- resident ID (GB 11643-1999) -------------------------------------------
_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# First two digits: the provinces of GB/T 2260, plus 71 台湾, 81 香港, 82 澳门, 83 (台湾居民居住证).
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83 91".split()
)

# --- mobile: 1[3-9]x xxxx xxxx, optional +86/0086/86 and 3-4-4 grouping -----
_MOBILE = re.compile(
    r"(?<![0-9+])(?:(?:\+|00)?86[ -]?)?"
    r"1[3-9][0-9](?P<sep>[ -]?)[0-9]{4}(?P=sep)[0-9]{4}(?![0-9])"
)

# --- bank card: 16-19 digits, plain or in groups of four --------------------
_CARD = re.compile(
    r"(?<![0-9])(?:[0-9]{16,19}"
    r"|[0-9]{4}(?P<sep>[ -])[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{4}(?:(?P=sep)[0-9]{1,3})?)"
    r"(?![0-9])"
)

# --- e-mail: ASCII local part and dotted domain ending in a letter TLD ------
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)


def id_number_valid(number: str) -> bool:
    """True for an 18-character resident ID with a right check digit and birth date."""
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    if number[:2] not in _PROVINCES:
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    if _ID_CHECK[total % 11] != number[17].upper():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by bank cards."""
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Every detector needs an "@" or ten-plus digits (separators allowed): one pass
# of this cheap pattern spares texts without either the four full ones.
_CANDIDATE = re.compile(r"[0-9][0-9 \-]{8,}[0-9Xx]|@")
_NUMBER = re.compile(r"[0-9][0-9 \-]{8,}[0-9Xx]")  # its first branch


# Everything a detector can match is printable ASCII (and spaces between digit groups).
_ASCII_RUN = frozenset(chr(c) for c in range(0x20, 0x7F))


def _windows(text: str, number: re.Pattern | None = None, run: frozenset | None = None
             ) -> list[tuple[int, int]]:
    """The whole runs of ASCII around each candidate, merged and in order.

    A Chinese text has few of them, so the detectors read a small part of it
    instead of all of it; a run is taken whole, so no match is cut short.
    The candidates are _CANDIDATE's matches, found as its two branches apart
    (a pattern with alternatives is tried at every position; one that starts
    with a character class skips ahead to the next digit in C), and merged:
    no "@" is part of a number, so they are the same matches.
    """
    if number is None:
        number, run = _NUMBER, _ASCII_RUN
    candidates = [m.span() for m in number.finditer(text)]
    at = text.find("@")
    if at >= 0:
        while at >= 0:
            candidates.append((at, at + 1))
            at = text.find("@", at + 1)
        candidates.sort()
    windows: list[tuple[int, int]] = []
    for lo, hi in candidates:
        if windows and lo < windows[-1][1]:
            continue  # inside the run already taken
        while lo > 0 and text[lo - 1] in run:
            lo -= 1
        while hi < len(text) and text[hi] in run:
            hi += 1
        windows.append((lo, hi))
    return windows


def detect(text: str) -> list[tuple[str, int, int]]:
    """All PII spans in *text* as ``(rule, start, end)``."""
    windows = _windows(text)
    if not windows:
        return []
    return _detect(text, windows)


@lru_cache(maxsize=1)
def _folded_patterns() -> tuple[re.Pattern, frozenset, list]:
    """_CANDIDATE and _ASCII_RUN over the characters that token_text() turns into
    them (full-width digits and letters, ①, Ⅻ ...), and the token table."""
    from review.scanning import normalize

    table = normalize.token_table()
    into: dict[str, list[str]] = {}  # printable ASCII -> the characters translated into it
    for cp, mapped in enumerate(table):
        if mapped in _ASCII_RUN:
            into.setdefault(mapped, []).append(chr(cp))

    def preimage(chars: str) -> list[str]:
        return [c for ch in chars for c in into.get(ch, ())]

    def klass(chars: str) -> str:
        return "[" + "".join(re.escape(c) for c in preimage(chars)) + "]"

    digits = "0123456789"
    number = re.compile(f"{klass(digits)}{klass(digits + ' -')}{{8,}}{klass(digits + 'Xx')}")
    if preimage("@") != ["@"]:  # _windows() finds "@" by str.find
        raise RuntimeError("a character other than @ translates into @")
    run = frozenset(preimage("".join(_ASCII_RUN)))
    return number, run, table


def warm_up() -> None:
    """Build detect_folded()'s patterns now rather than in the first scan that needs them."""
    _folded_patterns()


def detect_folded(text: str) -> list[tuple[str, int, int]]:
    """detect(normalize.token_text(text)) without translating the whole text.

    The detectors read only the ASCII runs around candidates; the runs and
    candidates of the translated text are found in *text* itself (over the
    characters that translate into them, one for one), and only those runs
    are translated. Outside them every pattern sees a character that is none
    of its ASCII classes, translated or not.
    """
    number, run, table = _folded_patterns()
    windows = _windows(text, number, run)
    if not windows:
        return []
    pieces = []
    last = 0
    for lo, hi in windows:
        pieces.append(text[last:lo])
        pieces.append(text[lo:hi].translate(table))
        last = hi
    pieces.append(text[last:])
    return _detect("".join(pieces), windows)


def _detect(text: str, windows: list[tuple[int, int]]) -> list[tuple[str, int, int]]:
    """detect() given the windows of *text*."""
    found: list[tuple[str, int, int]] = []

    def finditer(pattern):
        # pos/endpos keep the whole string, so look-behinds still see what precedes a window.
        for lo, hi in windows:
            yield from pattern.finditer(text, lo, hi)

    emails = []
    for m in finditer(_EMAIL):
        # The pattern starts at the beginning of a run (keeps it linear); a
        # leading "-" or "." (as in "邮箱-foo@x.cn") is not part of the address.
        start = m.start() + len(m.group()) - len(m.group().lstrip("._%+-"))
        if text[start] != "@":
            emails.append((start, m.end()))
    found.extend((RULE_EMAIL, s, e) for s, e in emails)

    email_starts = [s for s, _ in emails]  # sorted, non-overlapping

    def in_email(start: int, end: int) -> bool:
        # 13812345678@qq.com: the number is the address's local part, not a second finding.
        i = bisect.bisect_right(email_starts, start) - 1
        return i >= 0 and end <= emails[i][1]

    ids = set()
    for m in finditer(_ID):
        if id_number_valid(m.group()) and not in_email(m.start(), m.end()):
            ids.add((m.start(), m.end()))
            found.append((RULE_ID, m.start(), m.end()))

    for m in finditer(_MOBILE):
        if not in_email(m.start(), m.end()):
            found.append((RULE_MOBILE, m.start(), m.end()))

    for m in finditer(_CARD):
        span = (m.start(), m.end())
        digits = re.sub(r"[ -]", "", m.group())
        # An ID number is reported as an ID only, even if it also passes Luhn.
        if span not in ids and luhn_valid(digits) and not in_email(*span):
            found.append((RULE_CARD, m.start(), m.end()))
    return found


# --- hidden direction controls --------------------------------------------
# Invisible characters that change the order text is shown in (U+202E shows
# "abc" as "cba"): what the reviewer reads would not be what is published.
RULE_DIRECTION = "hidden:direction"
_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_DIRECTION_CONTROLS = re.compile(f"[{_CONTROLS}]+")


def direction_controls(text: str) -> list[tuple[str, int, int]]:
    """Each run of direction controls in *text* as ``(rule, start, end)``."""
    if not any(ch in text for ch in _CONTROLS):  # str.find is several times as fast as the pattern
        return []
    return [(RULE_DIRECTION, m.start(), m.end()) for m in _DIRECTION_CONTROLS.finditer(text)]


def code_points(text: str) -> str:
    """``U+202E U+202C``: how a flag names characters that cannot be seen."""
    return " ".join(f"U+{ord(ch):04X}" for ch in text)


__all__ = ["RULE_CARD", "RULE_DIRECTION", "RULE_EMAIL", "RULE_ID", "RULE_MOBILE", "code_points", "detect", "detect_folded",
           "direction_controls", "id_number_valid", "luhn_valid"]
