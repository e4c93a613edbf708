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
from operator import attrgetter
from pathlib import Path
from typing import Iterable

from review.scanning.normalize import fold_term, fold_terms

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
    """One listed term: the text to find, its category and severity. A database
    term may be switched off (*enabled* False): it then also switches off the
    files' listing of the same term in its category."""

    term: str
    category: str
    severity: str
    enabled: bool = True


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

    A term listed twice in one category (any Latin case) is kept once, with its
    highest severity.  A database term that a file also lists in its category
    is the registrar's decision on that term: its severity replaces the file's,
    and switched off (``enabled`` False) it is not scanned for at all.
    *extra_terms* may be any iterable of :class:`Term`.  Raises
    :class:`WordListError`.
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
        severity, entries, keys = _parse_file(path)
        if path.name == ALLOW_FILE:
            for phrase, key in zip(entries, keys):
                allow[key] = min(allow.get(key, phrase), phrase)
            continue
        category = path.stem
        for text, key in zip(entries, keys):
            _merge(merged, (key, category), text, category, severity)
    extra = list(extra_terms)
    texts = [t.term.strip() if isinstance(t, Term) and isinstance(t.term, str) else "" for t in extra]
    decided: dict[tuple[str, str], Term] = {}  # the database's terms, merged among themselves
    off: set[tuple[str, str]] = set()
    for term, key in zip(extra, fold_terms(texts)):  # checked in order: the first bad term is reported
        text = _check_extra(term, key)
        if term.enabled:
            _merge(decided, (key, term.category), text, term.category, term.severity)
        else:
            off.add((key, term.category))
    for key in off - decided.keys():
        merged.pop(key, None)
    for key, term in decided.items():  # over the files' severity, not merged with it
        listed = merged.get(key)
        merged[key] = Term(min(listed.term, term.term), term.category, term.severity) if listed else term

    terms = tuple(sorted(merged.values(), key=_TERM_ORDER))
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


def _parse_file(path: Path) -> tuple[str, list[str], list[str]]:
    """Return (severity, entries, their folded keys) of one list file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WordListError(f"{path.name}: cannot read ({exc.strerror or exc}) / 无法读取") from None
    severity, entries, keys = _parse(data, path.name)
    return severity or DEFAULT_SEVERITY, [term for _, term in entries], keys


def parse_lines(data: bytes, name: str) -> tuple[str | None, list[tuple[int, str]]]:
    """Parse list-file bytes: (the severity directive or None, [(line number, term)]).

    Raises :class:`WordListError` naming *name* and the line.
    """
    severity, entries, _ = _parse(data, name)
    return severity, entries


def _parse(data: bytes, name: str) -> tuple[str | None, list[tuple[int, str]], list[str]]:
    """parse_lines(), and the folded key of each entry.

    Terms are folded all at once (normalize.fold_terms); the first error in
    line order is the one raised, as if each line were checked in turn.
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
        if "#" in line:
            directive = _DIRECTIVE.match(line)
            if directive:
                value = directive.group(1).lower()
                if value not in SEVERITIES:
                    _check_folds(entries, name)  # a term above without letters is the first error
                    raise WordListError(
                        f"{name}:{number}: unknown severity {directive.group(1)!r}, "
                        f"expected high, medium or low / 未知的严重程度"
                    )
                if entries or severity is not None:
                    _check_folds(entries, name)
                    raise WordListError(
                        f"{name}:{number}: the severity directive must come once, "
                        f"before the first term / 严重程度声明须位于首个词条之前且只能出现一次"
                    )
                severity = value
                continue
            line = line.split("#", 1)[0].strip()
        if line and line not in seen:
            seen.add(line)
            entries.append((number, line))
    return severity, entries, _check_folds(entries, name)


def _check_folds(entries: list[tuple[int, str]], name: str) -> list[str]:
    """The folded keys of *entries*; raises for the first term with no letter, digit or ideograph."""
    keys = fold_terms([term for _, term in entries])
    if not all(keys):
        number, term = entries[keys.index("")]
        raise WordListError(
            f"{name}:{number}: {term!r} has no letter, digit or ideograph / 词条不含任何文字"
        )
    return keys


def _check_extra(term, key: str) -> str:
    """Validate a database term the same way a file term is validated; its
    text, stripped. *key* is the folded text."""
    if not isinstance(term, Term):
        raise WordListError(f"database term {term!r}: not a Term / 数据库词条格式错误")
    text = term.term.strip() if isinstance(term.term, str) else ""
    if not text or "#" in text or not key:
        raise WordListError(f"database term {term.term!r}: empty or contains '#' / 数据库词条无效")
    if term.severity not in SEVERITIES:
        raise WordListError(
            f"database term {term.term!r}: unknown severity {term.severity!r} / 未知的严重程度"
        )
    if not term.category or not isinstance(term.category, str):
        raise WordListError(f"database term {term.term!r}: no category / 缺少类别")
    return text


def _merge(merged: dict[tuple[str, str], Term], key: tuple[str, str], text: str, category: str,
           severity: str) -> None:
    """Add a term under *key* (folded term, category); a duplicate keeps the
    smallest spelling and the highest severity.

    Both choices are independent of the order terms arrive in, so the version
    does not depend on file or database order.
    """
    old = merged.get(key)
    if old is None:
        merged[key] = Term(text, category, severity)
        return
    severity = min(old.severity, severity, key=_SEVERITY_RANK.__getitem__)
    merged[key] = Term(min(old.term, text), category, severity)


def _version(terms: tuple[Term, ...], allow: tuple[str, ...]) -> str:
    """sha256 of a canonical JSON form: sorted, UTF-8, no whitespace."""
    payload = {
        "terms": sorted(map(_TERM_FIELDS, terms)),  # tuples: the same JSON arrays as lists
        "allow": sorted(allow),
    }
    blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


_TERM_ORDER = attrgetter("category", "term", "severity")
_TERM_FIELDS = attrgetter("term", "category", "severity")


__all__ = [
    "SEVERITIES", "Term", "WordListError", "WordLists",
    "fold_key", "load_wordlists", "parse_lines", "wordlist_fingerprint",
]
