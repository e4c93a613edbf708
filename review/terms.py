"""Word-list terms in the database: add, disable/enable, change severity, bulk
import. Each change is one audited event; the scan engine joins the enabled
terms to the list files (workers/runtime.py) and picks them up before the
next scan."""
from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlmodel import Session

from review import audit
from review.errors import Conflict, NotFound, ValidationError
from review.models import User, WordListRevision, WordListTerm
from review.scanning import Term, WordListError
from review.scanning.wordlists import SEVERITIES, parse_lines
from review.scanning.normalize import fold_term
from review.timeutil import now

SEVERITY_LABELS = {"high": "高", "medium": "中", "low": "低"}
MAX_TERM = 64
MAX_IMPORT = 5000
# A category becomes part of a rule name ("wordlist:<category>"): keep it a plain identifier.
_CATEGORY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_RESERVED = {"allow", "pii"}


def list_terms(session: Session) -> list[WordListTerm]:
    return list(session.execute(
        select(WordListTerm).order_by(WordListTerm.category, WordListTerm.term)).scalars())


def database_terms(session: Session) -> list[Term]:
    """The terms the scan engine joins to the files; switched-off ones too, since they
    switch off the files' listing of the same term (load_wordlists)."""
    rows = session.execute(select(WordListTerm.term, WordListTerm.category, WordListTerm.severity,
                                  WordListTerm.enabled))
    return [Term(term, category, severity, bool(enabled)) for term, category, severity, enabled in rows]


def listed_terms(wordlists, rows: list[WordListTerm]) -> list[Term]:
    """The files' terms that no database term decides on (those are listed with the database's):
    what 词库管理 shows as built in, each to be switched off or given another severity."""
    decided = {(row.folded, row.category) for row in rows}
    return [t for t in wordlists.terms if (fold_term(t.term), t.category) not in decided]


def revision(session: Session) -> int:
    """The database terms' revision: it moves with every change to them."""
    return session.execute(select(WordListRevision.revision).where(WordListRevision.id == 1)).scalar() or 0


def _changed(session: Session) -> None:
    # In the change's own transaction, so a worker never sees the new number with the old terms.
    bumped = session.execute(update(WordListRevision).where(WordListRevision.id == 1)
                             .values(revision=WordListRevision.revision + 1)).rowcount
    if not bumped:
        session.add(WordListRevision(id=1, revision=1))
        session.flush()


def _clean_term(term: str) -> str:
    term = (term or "").strip()
    if not term:
        raise ValidationError("请填写词条", field="term")
    if len(term) > MAX_TERM:
        raise ValidationError(f"词条不能超过 {MAX_TERM} 个字符", field="term")
    if "#" in term or "\n" in term or "\r" in term:
        raise ValidationError("词条不能包含“#”或换行", field="term")
    if not fold_term(term):
        raise ValidationError("词条须包含文字、字母或数字", field="term")
    return term


def _clean_category(category: str) -> str:
    category = (category or "").strip().lower()
    if not _CATEGORY.match(category) or category in _RESERVED:
        raise ValidationError("类别须以小写字母开头，只含小写字母、数字、“_”或“-”，不超过 32 个字符，"
                              "且不能是 allow 或 pii", field="category")
    return category


def _clean_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise ValidationError("严重程度须为 高、中 或 低", field="severity")
    return severity


def _existing(session: Session, folded: str, category: str) -> WordListTerm | None:
    return session.execute(select(WordListTerm).where(
        WordListTerm.folded == folded, WordListTerm.category == category)).scalar_one_or_none()


def add_term(session: Session, actor: User, term: str, category: str, severity: str,
             enabled: bool = True) -> WordListTerm:
    """A database term. One that the files list too is the registrar's decision on it: its
    severity replaces the file's, and added switched off (*enabled* False) it is not scanned."""
    term, category, severity = _clean_term(term), _clean_category(category), _clean_severity(severity)
    folded = fold_term(term)
    if _existing(session, folded, category) is not None:
        raise Conflict(f"类别 {category} 中已有词条“{term}”（或其繁体、全角、大小写变体）", field="term")
    row = WordListTerm(term=term, folded=folded, category=category, severity=severity, enabled=enabled,
                       created_by_id=actor.id if actor else None)
    session.add(row)
    session.flush()
    _changed(session)
    audit.record(session, "term.added" if enabled else "term.disabled", actor, term_id=row.id, term=term,
                 category=category, severity=severity)
    return row


def _get(session: Session, term_id: int) -> WordListTerm:
    row = session.get(WordListTerm, term_id)
    if row is None:
        raise NotFound("词条不存在")
    return row


def set_enabled(session: Session, actor: User, term_id: int, enabled: bool) -> WordListTerm:
    row = _get(session, term_id)
    if row.enabled == enabled:
        return row  # nothing changed, nothing audited
    row.enabled = enabled
    row.updated_at = now()
    session.add(row)
    _changed(session)
    audit.record(session, "term.enabled" if enabled else "term.disabled", actor,
                 term_id=row.id, term=row.term, category=row.category)
    return row


def set_severity(session: Session, actor: User, term_id: int, severity: str) -> WordListTerm:
    row = _get(session, term_id)
    severity = _clean_severity(severity)
    if row.severity == severity:
        return row
    old, row.severity, row.updated_at = row.severity, severity, now()
    session.add(row)
    _changed(session)
    audit.record(session, "term.severity_changed", actor, term_id=row.id, term=row.term,
                 category=row.category, old=old, new=severity)
    return row


def import_terms(session: Session, actor: User, data: bytes, category: str, severity: str,
                 filename: str = "上传文件") -> tuple[int, int]:
    """Add every term of a list file (the wordlists/ format; a ``# severity:``
    line overrides *severity*). All or nothing: a bad line adds none.
    Returns (added, already present)."""
    category, severity = _clean_category(category), _clean_severity(severity)
    try:
        file_severity, entries = parse_lines(data, filename)
    except WordListError as exc:
        raise ValidationError(f"文件有误：{exc}", field="file") from None
    severity = file_severity or severity
    if not entries:
        raise ValidationError("文件中没有词条", field="file")
    if len(entries) > MAX_IMPORT:
        raise ValidationError(f"一次最多导入 {MAX_IMPORT} 个词条", field="file")
    cleaned = []
    for number, term in entries:
        try:
            cleaned.append(_clean_term(term))
        except ValidationError as exc:
            raise ValidationError(f"{filename} 第 {number} 行：{exc.message}", field="file") from None
    seen = {row.folded for row in session.execute(
        select(WordListTerm).where(WordListTerm.category == category)).scalars()}
    added = []
    for term in cleaned:
        folded = fold_term(term)
        if folded in seen:
            continue
        seen.add(folded)
        session.add(WordListTerm(term=term, folded=folded, category=category, severity=severity,
                                 created_by_id=actor.id if actor else None))
        added.append(term)
    session.flush()
    _changed(session)
    audit.record(session, "term.imported", actor, category=category, severity=severity,
                 filename=filename, added=added, skipped=len(cleaned) - len(added))
    return len(added), len(cleaned) - len(added)


__all__ = ["SEVERITY_LABELS", "add_term", "database_terms", "import_terms", "list_terms", "listed_terms",
           "set_enabled", "set_severity"]
