"""Read-side: what the pages and the API show. No changes happen here."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session

from review import diff, highlight
from review.models import Channel, Decision, Draft, DraftVersion, Flag, Publication, ScanResult, User
from review.timeutil import now

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def users_by_id(session: Session, ids) -> dict[int, User]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in session.execute(select(User).where(User.id.in_(ids))).scalars()}


@dataclass
class DraftRow:
    draft: Draft
    channel: Channel
    author: User
    version_number: int | None = None

    @property
    def overdue(self) -> bool:
        return bool(self.draft.deadline_at and self.draft.status == "in_review" and self.draft.deadline_at < now())


def draft_rows(session: Session, *where, order_by, limit: int) -> list[DraftRow]:
    stmt = (select(Draft, Channel, User, DraftVersion.number)
            .join(Channel, Channel.id == Draft.channel_id)
            .join(User, User.id == Draft.author_id)
            .outerjoin(DraftVersion, DraftVersion.id == Draft.current_version_id)
            .where(*where).order_by(*order_by).limit(limit))
    return [DraftRow(d, c, u, n) for d, c, u, n in session.execute(stmt)]


def editor_drafts(session: Session, user: User, status: str | None = None, limit: int = 200) -> list[DraftRow]:
    where = [Draft.author_id == user.id]
    if status:
        where.append(Draft.status == status)
    return draft_rows(session, *where, order_by=[Draft.updated_at.desc()], limit=limit)


def review_queue(session: Session, leader: User, limit: int = 200) -> list[DraftRow]:
    """Drafts awaiting this leader: urgent first, then oldest."""
    return draft_rows(session, Draft.status == "in_review", Channel.leader_id == leader.id,
                 Draft.author_id != leader.id,
                 order_by=[Draft.urgent.desc(), Draft.submitted_at.asc()], limit=limit)


def pending_scan_count(session: Session, leader: User) -> int:
    return session.execute(
        select(func.count(Draft.id)).join(Channel, Channel.id == Draft.channel_id)
        .where(Draft.status.in_(("queued", "scanning")), Channel.leader_id == leader.id)
    ).scalar_one()


def recent_decisions(session: Session, leader: User, limit: int = 20) -> list[tuple[Decision, Draft]]:
    stmt = (select(Decision, Draft).join(Draft, Draft.id == Decision.draft_id)
            .where(Decision.decided_by_id == leader.id).order_by(Decision.decided_at.desc()).limit(limit))
    return list(session.execute(stmt))


def flags_for(session: Session, version_id: int) -> list[Flag]:
    return list(session.execute(select(Flag).where(Flag.version_id == version_id)
                                .order_by(Flag.field, Flag.start, Flag.end)).scalars())


@dataclass
class DraftView:
    """Everything a draft page shows."""

    draft: Draft
    channel: Channel
    author: User
    version: DraftVersion | None
    versions: list[DraftVersion]
    scan: ScanResult | None
    flags: list[Flag]
    decisions: list[Decision]
    publication: Publication | None
    people: dict[int, User]
    previous: DraftVersion | None = None
    show_low: bool = False
    diff_rows: list = field(default_factory=list)

    @property
    def shown_flags(self) -> list[Flag]:
        return [f for f in self.flags if self.show_low or f.confidence != "low"]

    @property
    def hidden_count(self) -> int:
        return len(self.flags) - len(self.shown_flags)

    def runs(self, which: str):
        if self.version is None:
            return []
        text = self.version.title if which == "title" else self.version.text
        return highlight.runs(text, [f for f in self.shown_flags if f.field == which])

    @property
    def flags_by_category(self) -> list[tuple[str, list[Flag]]]:
        groups: dict[str, list[Flag]] = {}
        ordered = sorted(self.shown_flags, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.category, f.field, f.start))
        for f in ordered:
            groups.setdefault(f.category, []).append(f)
        return list(groups.items())

    @property
    def must_acknowledge(self) -> list[tuple[str, str, list[Flag]]]:
        """High-severity flags a leader ticks before approving, one box per (category, term)."""
        groups: dict[tuple[str, str], list[Flag]] = {}
        for f in self.shown_flags:
            if f.severity == "high":
                groups.setdefault((f.category, f.term), []).append(f)
        return [(category, term, flags) for (category, term), flags in groups.items()]

    @property
    def approval(self) -> Decision | None:
        if self.version is None:
            return None
        return next((d for d in self.decisions if d.version_id == self.version.id and d.decision == "approve"), None)

    @property
    def overdue(self) -> bool:
        d = self.draft
        return bool(d.deadline_at and d.status == "in_review" and d.deadline_at < now())


def draft_view(session: Session, draft: Draft, show_low: bool = False) -> DraftView:
    channel = session.get(Channel, draft.channel_id)
    versions = list(session.execute(select(DraftVersion).where(DraftVersion.draft_id == draft.id)
                                    .order_by(DraftVersion.number.desc())).scalars())
    version = next((v for v in versions if v.id == draft.current_version_id), None)
    scan = flags = None
    if version:
        scan = session.execute(select(ScanResult).where(ScanResult.version_id == version.id)).scalars().first()
        flags = flags_for(session, version.id)
    decisions = list(session.execute(select(Decision).where(Decision.draft_id == draft.id)
                                     .order_by(Decision.decided_at.desc())).scalars())
    publication = session.execute(select(Publication).where(Publication.draft_id == draft.id)).scalars().first()
    people = users_by_id(session, [draft.author_id, *(d.decided_by_id for d in decisions),
                                   *(publication and [publication.recorded_by_id, publication.retracted_by_id] or [])])
    view = DraftView(draft, channel, people.get(draft.author_id), version, versions, scan, flags or [],
                     decisions, publication, people, show_low=show_low)
    if version and version.number > 1:
        view.previous = next((v for v in versions if v.number == version.number - 1), None)
        if view.previous:
            old = f"{view.previous.title}\n\n{view.previous.text}"
            new = f"{version.title}\n\n{version.text}"
            view.diff_rows = diff.diff_lines(old, new)
    return view
