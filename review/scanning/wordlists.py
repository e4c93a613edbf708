"""Word lists: one category per ``*.txt`` file, plus the allow-list.

File format (see DESIGN.md, "Sensitive-term scanning")::

    # severity: high        optional directive before the first term (default medium)
    百家乐                   one term a line; '#' starts a comment
                             blank lines are ignored, surrounding whitespace stripped

``allow.txt`` is the allow-list: phrases that are never flagged and that
suppress any match lying inside one of their occurrences.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from review.scanning.normalize import fold_term

SEVERITIES = ("high", "medium", "low")
DEFAULT_SEVERITY = "medium"
ALLOW_FILE = "allow.txt"

# "# severity: high" — the value is checked separately so that a typo is an
# error rather than a silently ignored comment.
_DIRECTIVE = re.compile(r"^#\s*severity\s*:\s*(.*?)\s*$", re.IGNORECASE)
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


class WordListError(ValueError):
    """A word list cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Term:
    """One listed term: the text to find, its category and severity."""

    term: str
    category: str
    severity: str


@dataclass(frozen=True)
class WordLists:
    """Every term and allow-list phrase, with the version (hash) of the set."""

    terms: tuple[Term, ...]
    allow: tuple[str, ...]
    version: str


def fold_key(term: str) -> str:
    """The form in which two terms count as the same: folded as text is
    (case, full width, traditional characters, noise between characters)."""
    return fold_term(term)


def load_wordlists(directory, extra_terms: Iterable[Term] = ()) -> WordLists:
    """Read every ``*.txt`` in *directory* and join *extra_terms* (database terms).

    A term listed twice in one category (files or database, any Latin case) is
    kept once, with its highest severity.  *extra_terms* may be any iterable
    of :class:`Term`.  Raises :class:`WordListError`.
    """
    root = Path(directory)
    try:
        paths = _list_files(root)
    except OSError as exc:
        raise WordListError(
            f"{root}: word-list directory unreadable ({exc.strerror or exc}) / 词库目录无法读取"
        ) from None

    merged: dict[tuple[str, str], Term] = {}
    allow: dict[str, str] = {}
    for path in paths:
        severity, entries = _parse_file(path)
        if path.name == ALLOW_FILE:
            for phrase in entries:
                key = fold_key(phrase)
                allow[key] = min(allow.get(key, phrase), phrase)
            continue
        for text in entries:
            _merge(merged, Term(text, path.stem, severity))
    for term in extra_terms:
        _merge(merged, _check_extra(term))

    terms = tuple(sorted(merged.values(), key=lambda t: (t.category, t.term, t.severity)))
    phrases = tuple(sorted(allow.values()))
    return WordLists(terms=terms, allow=phrases, version=_version(terms, phrases))


def wordlist_fingerprint(directory) -> tuple:
    """A cheap fingerprint (name, mtime_ns, size) of the list files.

    It changes when a file is added, removed or rewritten; a missing or
    unreadable directory gets its own fingerprint (loading it then raises).
    """
    root = Path(directory)
    try:
        rows = []
        for path in _list_files(root):
            st = path.stat()
            rows.append((path.name, st.st_mtime_ns, st.st_size))
        return tuple(rows)
    except OSError as exc:
        return (("<unreadable>", str(root), exc.errno),)


def _list_files(root: Path) -> list[Path]:
    """The list files in *root*, by name; hidden files (editor locks) skipped."""
    if not root.is_dir():
        raise FileNotFoundError(2, "not a directory", str(root))
    return sorted(
        (p for p in root.iterdir()
         if p.suffix == ".txt" and not p.name.startswith(".") and p.is_file()),
        key=lambda p: p.name,
    )


def _parse_file(path: Path) -> tuple[str, list[str]]:
    """Return (severity, entries) of one list file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WordListError(f"{path.name}: cannot read ({exc.strerror or exc}) / 无法读取") from None
    severity, entries = parse_lines(data, path.name)
    return severity or DEFAULT_SEVERITY, [term for _, term in entries]


def parse_lines(data: bytes, name: str) -> tuple[str | None, list[tuple[int, str]]]:
    """Parse list-file bytes: (the severity directive or None, [(line number, term)]).

    Raises :class:`WordListError` naming *name* and the line.
    """
    try:
        # utf-8-sig: Windows Notepad writes a BOM, which must not become part of a term.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise WordListError(f"{name}:{line}: not valid UTF-8 / 不是有效的 UTF-8 编码") from None

    severity = None
    entries: list[tuple[int, str]] = []
    seen: set[str] = set()
    # split on "\n" only, so line numbers agree with editors (str.splitlines
    # also breaks on \x0b, \u2028 and friends).
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        directive = _DIRECTIVE.match(line)
        if directive:
            value = directive.group(1).lower()
            if value not in SEVERITIES:
                raise WordListError(
                    f"{name}:{number}: unknown severity {directive.group(1)!r}, "
                    f"expected high, medium or low / 未知的严重程度"
                )
            if entries or severity is not None:
                raise WordListError(
                    f"{name}:{number}: the severity directive must come once, "
                    f"before the first term / 严重程度声明须位于首个词条之前且只能出现一次"
                )
            severity = value
            continue
        term = line.split("#", 1)[0].strip()
        if term and not fold_term(term):
            raise WordListError(
                f"{name}:{number}: {term!r} has no letter, digit or ideograph / 词条不含任何文字"
            )
        if term and term not in seen:
            seen.add(term)
            entries.append((number, term))
    return severity, entries


def _check_extra(term) -> Term:
    """Validate a database term the same way a file term is validated."""
    if not isinstance(term, Term):
        raise WordListError(f"database term {term!r}: not a Term / 数据库词条格式错误")
    text = term.term.strip() if isinstance(term.term, str) else ""
    if not text or "#" in text or not fold_term(text):
        raise WordListError(f"database term {term.term!r}: empty or contains '#' / 数据库词条无效")
    if term.severity not in SEVERITIES:
        raise WordListError(
            f"database term {term.term!r}: unknown severity {term.severity!r} / 未知的严重程度"
        )
    if not term.category or not isinstance(term.category, str):
        raise WordListError(f"database term {term.term!r}: no category / 缺少类别")
    return Term(text, term.category, term.severity)


def _merge(merged: dict[tuple[str, str], Term], term: Term) -> None:
    """Add *term*; a duplicate keeps the smallest spelling and the highest severity.

    Both choices are independent of the order terms arrive in, so the version
    does not depend on file or database order.
    """
    key = (fold_key(term.term), term.category)
    old = merged.get(key)
    if old is None:
        merged[key] = term
        return
    severity = min(old.severity, term.severity, key=_SEVERITY_RANK.__getitem__)
    merged[key] = Term(min(old.term, term.term), term.category, severity)


def _version(terms: tuple[Term, ...], allow: tuple[str, ...]) -> str:
    """sha256 of a canonical JSON form: sorted, UTF-8, no whitespace."""
    payload = {
        "terms": sorted([t.term, t.category, t.severity] for t in terms),
        "allow": sorted(allow),
    }
    blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


__all__ = [
    "SEVERITIES", "Term", "WordListError", "WordLists",
    "fold_key", "load_wordlists", "parse_lines", "wordlist_fingerprint",
]
