"""Read-side: what the pages and the API show. No changes happen here."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session

from review import chains, delegation, diff, highlight
from review.models import (Channel, Decision, DecisionRecord, Draft, DraftVersion, Flag, Publication, ScanResult,
                           User)
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
    step_name: str = ""  # in a reviewer's queue: the step waiting for them
    step_of: str = ""  # "第2步/共3步"
    acting_for: str = ""  # a deputy's queue: whom they stand in for

    @property
    def overdue(self) -> bool:
        return is_overdue(self.draft)


OPEN_FOR_REVIEW = ("queued", "scanning", "in_review")


def is_overdue(draft: Draft) -> bool:
    """Past its deadline and still not decided."""
    if not draft.deadline_at or draft.status not in OPEN_FOR_REVIEW:
        return False
    deadline = draft.deadline_at if draft.deadline_at.tzinfo else draft.deadline_at.replace(tzinfo=now().tzinfo)
    return deadline < now()


PAGE_SIZE = 50


def draft_rows(session: Session, *where, order_by, limit: int, offset: int = 0) -> list[DraftRow]:
    stmt = (select(Draft, Channel, User, DraftVersion.number)
            .join(Channel, Channel.id == Draft.channel_id)
            .join(User, User.id == Draft.author_id)
            .outerjoin(DraftVersion, DraftVersion.id == Draft.current_version_id)
            .where(*where).order_by(*order_by, Draft.id.desc()).limit(limit).offset(offset))
    return [DraftRow(d, c, u, n) for d, c, u, n in session.execute(stmt)]


def editor_drafts(session: Session, user: User, status: str | None = None, limit: int = PAGE_SIZE,
                  page: int = 1) -> list[DraftRow]:
    where = [Draft.author_id == user.id]
    if status:
        where.append(Draft.status == status)
    return draft_rows(session, *where, order_by=[Draft.updated_at.desc()], limit=limit,
                      offset=(max(page, 1) - 1) * limit)


def review_queue(session: Session, reviewer: User, limit: int = PAGE_SIZE) -> list[DraftRow]:
    """Drafts whose pending chain step this user may decide (directly or as a
    deputy): overdue first, then urgent, then oldest."""
    channel_ids = chains.reviewer_channel_ids(session, reviewer)
    if not channel_ids:
        return []
    candidates = draft_rows(session, Draft.status == "in_review", Draft.channel_id.in_(channel_ids),
                            Draft.author_id != reviewer.id,
                            order_by=[Draft.urgent.desc(), Draft.submitted_at.asc()], limit=limit * 4)
    # One query each for the chains, decisions and delegations of all candidates, not one per draft.
    steps = chains.chains_by_channel(session, channel_ids)
    decided = chains.decisions_by_version(session, [r.draft.current_version_id for r in candidates])
    grants = delegation.active_for_deputy(session, reviewer, now())
    rows = []
    for row in candidates:
        state = chains.state(session, row.draft, row.channel, chains=steps,
                             decisions=decided.get(row.draft.current_version_id, {}))
        pending = state.pending
        actor = (chains.actor_for(session, reviewer, pending.step, row.channel, row.draft, grants=grants)
                 if pending else None)
        if actor is None:
            continue
        row.step_name = pending.step.name
        row.step_of = f"第{pending.step.position}步/共{len(state.steps)}步"
        row.acting_for = actor.principal.display_name if actor.principal else ""
        rows.append(row)
    rows.sort(key=lambda r: (not r.overdue, not r.draft.urgent))  # stable: oldest first within each
    return rows[:limit]


def waiting_on_others(session: Session, reviewer: User, limit: int = 50) -> list[DraftRow]:
    """Drafts in this reviewer's channels that are at an earlier step of the chain (for a glance)."""
    channel_ids = chains.reviewer_channel_ids(session, reviewer)
    if not channel_ids:
        return []
    out = []
    candidates = draft_rows(session, Draft.status == "in_review", Draft.channel_id.in_(channel_ids),
                            Draft.author_id != reviewer.id, order_by=[Draft.submitted_at.asc()], limit=limit)
    steps = chains.chains_by_channel(session, channel_ids)
    decided = chains.decisions_by_version(session, [r.draft.current_version_id for r in candidates])
    grants = delegation.active_for_deputy(session, reviewer, now())
    for row in candidates:
        state = chains.state(session, row.draft, row.channel, chains=steps,
                             decisions=decided.get(row.draft.current_version_id, {}))
        pending = state.pending
        if pending is None or len(state.steps) == 1:
            continue
        if chains.actor_for(session, reviewer, pending.step, row.channel, row.draft, grants=grants):
            continue
        row.step_name = pending.step.name
        row.step_of = f"第{pending.step.position}步/共{len(state.steps)}步"
        out.append(row)
    return out


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
    chain: chains.ChainState | None = None
    records: dict[int, DecisionRecord] = field(default_factory=dict)  # decision id -> step name, on behalf of

    def decider(self, decision: Decision) -> str:
        """"张三" or, for a deputy, "张三 代 李四"."""
        name = self.people[decision.decided_by_id].display_name
        record = self.records.get(decision.id)
        if record and record.on_behalf_of_id:
            return f"{name} 代 {self.people[record.on_behalf_of_id].display_name}"
        return name

    def step_name(self, decision: Decision) -> str:
        record = self.records.get(decision.id)
        return record.step_name if record and record.step_name else f"第{decision.step}步"

    @property
    def approvals(self) -> list[Decision]:
        """Every step's approval of the current version, in chain order."""
        if self.version is None:
            return []
        return sorted((d for d in self.decisions if d.version_id == self.version.id and d.decision == "approve"),
                      key=lambda d: d.step)

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
        approvals = self.approvals
        return approvals[-1] if approvals else None

    @property
    def overdue(self) -> bool:
        return is_overdue(self.draft)


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
    records = {r.decision_id: r for r in session.execute(select(DecisionRecord).where(
        DecisionRecord.decision_id.in_([d.id for d in decisions]))).scalars()} if decisions else {}
    chain = chains.state(session, draft, channel, with_reviewers=True)
    people = users_by_id(session, [draft.author_id, channel.leader_id, *(d.decided_by_id for d in decisions),
                                   *(r.on_behalf_of_id for r in records.values()),
                                   *(s.step.user_id for s in chain.steps),
                                   *(publication and [publication.recorded_by_id, publication.retracted_by_id] or [])])
    view = DraftView(draft, channel, people.get(draft.author_id), version, versions, scan, flags or [],
                     decisions, publication, people, show_low=show_low, chain=chain, records=records)
    if version and version.number > 1:
        view.previous = next((v for v in versions if v.number == version.number - 1), None)
        if view.previous:
            old = f"{view.previous.title}\n\n{view.previous.text}"
            new = f"{version.title}\n\n{version.text}"
            view.diff_rows = diff.diff_lines(old, new)
    return view


@dataclass
class FlagRow:
    flag: Flag
    handling: str  # how the reviewers dealt with it


def flag_handling(view: DraftView) -> list[FlagRow]:
    """For the review form: each shown flag of the current version and how it was handled."""
    rows = []
    approvals = view.approvals
    for f in sorted(view.shown_flags, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.field, f.start)):
        if f.severity == "high":
            ticked = [view.step_name(d) + "：" + view.decider(d) for d in approvals
                      if str(f.id) in d.flags_acknowledged.split()]
            handling = "已确认斟酌（" + "；".join(ticked) + "）" if ticked else "未确认"
        else:
            handling = "提示，无需逐项确认"
        rows.append(FlagRow(f, handling))
    return rows
