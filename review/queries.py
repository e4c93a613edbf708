"""Read-side: what the pages and the API show. No changes happen here."""
from __future__ import annotations

from dataclasses import dataclass, field

from datetime import datetime
from functools import cached_property, lru_cache

from sqlalchemy import and_, bindparam, case, exists, func, literal, not_, or_, select, true
from sqlmodel import Session

from review import chains, diff, highlight
from review.chains import CHANNEL_COLUMNS, ChannelSummary
from review.models import (ChainStep, Channel, Decision, DecisionRecord, Draft, DraftVersion, Flag, Publication,
                           ScanResult, User)
from review.models.channels import local_today
from review.models.drafts import STATUS_LABELS
from review.timeutil import now

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


_USERS = select(User).where(User.id.in_(bindparam("ids", expanding=True)))


def users_by_id(session: Session, ids) -> dict[int, User]:
    """These users: the ones the session holds already (the signed-in user, a draft's author)
    from it, the others in one query."""
    out: dict[int, User] = {}
    missing = []
    for i in {i for i in ids if i}:
        user = session.identity_map.get(session.identity_key(User, i))
        if user is not None:
            out[i] = user
        else:
            missing.append(i)
    if missing:
        out.update((u.id, u) for u in session.execute(_USERS, {"ids": sorted(missing)}).scalars())
    return out


@dataclass(slots=True)
class DraftSummary:
    """The columns of a draft a list shows (not its body): lists build these
    from plain rows rather than loading whole Draft entities."""

    id: int
    channel_id: int
    author_id: int
    title: str
    status: str
    urgent: bool
    deadline_at: datetime | None
    updated_at: datetime
    submitted_at: datetime | None
    current_version_id: int | None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


SUMMARY_COLUMNS = (Draft.id, Draft.channel_id, Draft.author_id, Draft.title, Draft.status, Draft.urgent,
                   Draft.deadline_at, Draft.updated_at, Draft.submitted_at, Draft.current_version_id)


@dataclass(slots=True)
class Person:
    id: int
    display_name: str


@dataclass(slots=True)
class DraftRow:
    draft: DraftSummary
    channel: ChannelSummary
    author: Person
    version_number: int | None = None
    step_name: str = ""  # in a reviewer's queue: the step waiting for them
    step_of: str = ""  # "第2步/共3步"
    acting_for: str = ""  # a deputy's queue: whom they stand in for
    reminders: list[str] = field(default_factory=list)  # the channel's filing reminders
    overdue: bool = False  # is_overdue, worked out once when the row is made

    # The templates unpack these tuples in their loops ({% for id, title, ... in rows|map(attribute=...) %}):
    # a list of 50 drafts costs two attribute look-ups per cell in Jinja otherwise.
    @property
    def cells(self) -> tuple:
        """What _draft_rows.html shows, in its order."""
        d = self.draft
        return (d.id, d.title, d.urgent, self.overdue, d.status, d.status_label, self.channel.name, self.reminders,
                self.author.display_name, self.version_number, d.submitted_at, d.updated_at)

    @property
    def queue_cells(self) -> tuple:
        """What review_queue.html shows, in its order."""
        d = self.draft
        return (d.id, d.title, d.urgent, self.overdue, self.step_name, self.step_of, self.acting_for,
                self.channel.name, self.author.display_name, self.version_number, d.submitted_at, d.deadline_at)


OPEN_FOR_REVIEW = ("queued", "scanning", "in_review")


def is_overdue(draft, at: datetime | None = None) -> bool:
    """Past its deadline and still not decided."""
    if not draft.deadline_at or draft.status not in OPEN_FOR_REVIEW:
        return False
    at = at or now()
    deadline = draft.deadline_at if draft.deadline_at.tzinfo else draft.deadline_at.replace(tzinfo=at.tzinfo)
    return deadline < at


PAGE_SIZE = 50
_D = len(SUMMARY_COLUMNS)


def _rows(session: Session, stmt, params: dict | None = None,
          channels: dict[int, ChannelSummary] | None = None) -> list[tuple[DraftRow, tuple]]:
    """Run a _summary_select (or, given the `channels` it leaves out, a _chain_select) and make
    DraftRows (plain rows, no entities), each channel's reminders worked out once. Returns
    (row, extra columns) pairs."""
    today, at = local_today(), now()
    known: dict[int, tuple[ChannelSummary, list[str]]] = {}
    authors: dict[int, Person] = {}
    name = _D if channels is not None else _D + len(CHANNEL_COLUMNS)  # where the author's name is
    out = []
    # Core, not the ORM session's execute: these select columns, and the ORM layer would add a
    # tenth of a millisecond to each list for nothing.
    for r in session.connection().execute(stmt, params):
        draft = DraftSummary(*r[:_D])
        if draft.channel_id not in known:
            channel = channels[draft.channel_id] if channels is not None else ChannelSummary(*r[_D:name])
            known[draft.channel_id] = (channel, channel.reminders(today))
        channel, reminders = known[draft.channel_id]
        author = authors.get(draft.author_id) or authors.setdefault(draft.author_id, Person(draft.author_id, r[name]))
        out.append((DraftRow(draft, channel, author, r[name + 1], reminders=reminders,
                             overdue=is_overdue(draft, at)), tuple(r[name + 2:])))
    return out


def _summary_select(*extra):
    """SUMMARY_COLUMNS, CHANNEL_COLUMNS, the author's name, the current version's number, *extra."""
    return (select(*SUMMARY_COLUMNS, *CHANNEL_COLUMNS, User.display_name, DraftVersion.number, *extra)
            .join(Channel, Channel.id == Draft.channel_id).join(User, User.id == Draft.author_id)
            .outerjoin(DraftVersion, DraftVersion.id == Draft.current_version_id))


def _chain_select(*extra):
    """A _summary_select without the channels: a reviewer's scope holds those already."""
    return (select(*SUMMARY_COLUMNS, User.display_name, DraftVersion.number, *extra)
            .join(User, User.id == Draft.author_id)
            .outerjoin(DraftVersion, DraftVersion.id == Draft.current_version_id))


def draft_rows(session: Session, *where, order_by, limit: int, offset: int = 0) -> list[DraftRow]:
    stmt = _summary_select().where(*where).order_by(*order_by, Draft.id.desc()).limit(limit).offset(offset)
    return [row for row, _ in _rows(session, stmt)]


# The editor's list, newest first (ix_draft_author_updated, ix_draft_author_status_updated); built once.
_MINE = (_summary_select().where(Draft.author_id == bindparam("author_id"))
         .order_by(Draft.updated_at.desc(), Draft.id.desc()).limit(bindparam("limit")).offset(bindparam("offset")))
_MINE_BY_STATUS = _MINE.where(Draft.status == bindparam("status"))


def editor_drafts(session: Session, user: User, status: str | None = None, limit: int = PAGE_SIZE,
                  page: int = 1) -> list[DraftRow]:
    params = {"author_id": user.id, "limit": limit, "offset": (max(page, 1) - 1) * limit}
    if status:
        params["status"] = status
    return [row for row, _ in _rows(session, _MINE_BY_STATUS if status else _MINE, params=params)]


def _chain_statement(where, keys, overdue=None):
    """Drafts in review matching `where`, ordered by `keys` ((expression, descending), ...), with
    the position of the step each waits for, how many drafts match in all and how many of those
    are `overdue` (an SQL condition; 0 without one). Two steps in one statement: rank the drafts
    by what ix_draft_review_queue holds (no table row read), then read the :limit first ones
    only. The counts are window aggregates over the ranking, which reads every match anyway."""
    def order(cols):
        return [c.desc() if descending else c.asc() for c, (_, descending) in zip(cols, keys)]

    exprs = [e for e, _ in keys]
    late = func.sum(case((overdue, 1), else_=0)).over() if overdue is not None else literal(0)
    ranked = (select(Draft.id, *(e.label(f"k{i}") for i, e in enumerate(exprs)),
                     func.count().over().label("total"), late.label("overdue"))
              .where(Draft.status == "in_review", Draft.author_id != bindparam("user_id"), *where)
              .order_by(*order(exprs), Draft.id.desc()).limit(bindparam("limit")).subquery())
    return (_chain_select(chains.decided_steps() + 1, ranked.c.total, ranked.c.overdue)
            .join(ranked, ranked.c.id == Draft.id)
            .order_by(*order([ranked.c[f"k{i}"] for i in range(len(keys))]), ranked.c.id.desc()))


# Statements are built once per shape of a reviewer's scope (positions and principals, not channel ids).
@lru_cache(maxsize=256)
def _queue_statement(shape: tuple):
    mine = chains.may_decide_sql(shape, chains.decided_steps() + 1)
    if mine is None:
        return None
    at = bindparam("now", type_=Draft.__table__.c.deadline_at.type)
    overdue = and_(Draft.deadline_at.is_not(None), Draft.deadline_at < at)  # is_overdue(), in SQL
    return _chain_statement([mine], [(case((overdue, 0), else_=1), False), (Draft.urgent, True),
                                     (Draft.submitted_at, False)], overdue=overdue)


@lru_cache(maxsize=256)
def _waiting_statement(shape: tuple, lengths: tuple[int, ...]):
    decided = chains.decided_steps()
    open_step = or_(*(and_(Draft.channel_id.in_(bindparam(f"length_{n}", expanding=True)), decided < n)
                      for n in lengths))
    mine = chains.may_decide_sql(shape, decided + 1)
    return _chain_statement([open_step, *([not_(mine)] if mine is not None else [])], [(Draft.submitted_at, False)])


@dataclass
class ChainPage:
    """The first rows of a list of drafts in review, and how many the whole list holds."""

    rows: list[DraftRow] = field(default_factory=list)
    total: int = 0
    overdue: int = 0

    @property
    def more(self) -> int:
        """How many are not among the rows."""
        return self.total - len(self.rows)


def _chain_page(session: Session, scope: chains.ReviewerScope, stmt, params: dict) -> tuple[ChainPage, list]:
    """The page of a _chain_statement, and each row's chain step."""
    page, steps_of = ChainPage(), []
    for row, (pos, total, overdue) in _rows(session, stmt, channels=scope.channels,
                                            params={"user_id": scope.user.id, **scope.params(), **params}):
        steps = scope.chains[row.draft.channel_id]
        step = steps[pos - 1]
        row.step_name = step.name
        row.step_of = f"第{step.position}步/共{len(steps)}步"
        page.rows.append(row)
        steps_of.append(step)
        page.total, page.overdue = int(total), int(overdue or 0)
    return page, steps_of


def review_queue_page(session: Session, reviewer: User, limit: int | None = None,
                      scope: chains.ReviewerScope | None = None) -> ChainPage:
    """Drafts whose pending chain step this user may decide (directly or as a
    deputy): overdue first, then urgent, then oldest; the first `limit` of them,
    and how many (and how many overdue) in all. One query: the database works
    out each draft's pending step (chains.decided_steps) and matches it against
    the steps this reviewer may decide (chains.ReviewerScope)."""
    scope = scope or chains.reviewer_scope(session, reviewer)
    stmt = _queue_statement(scope.shape())
    if stmt is None:
        return ChainPage()
    page, steps = _chain_page(session, scope, stmt, {"now": now(), "limit": limit or PAGE_SIZE})
    rows = []
    # actor_for reads only the draft's author: one answer per channel, step and author.
    actors: dict[tuple[int, int, int], chains.Actor | None] = {}
    for row, step in zip(page.rows, steps):
        key = (row.draft.channel_id, step.position, row.draft.author_id)
        if key not in actors:
            actors[key] = scope.actor(session, step, row.channel, row.draft)
        actor = actors[key]
        if actor is None:  # the SQL and actor_for disagree: actor_for decides (and the counts drop it)
            page.total -= 1
            page.overdue -= row.overdue
            continue
        row.acting_for = actor.principal.display_name if actor.principal else ""
        rows.append(row)
    page.rows = rows
    return page


def review_queue(session: Session, reviewer: User, limit: int | None = None,
                 scope: chains.ReviewerScope | None = None) -> list[DraftRow]:
    """review_queue_page's rows."""
    return review_queue_page(session, reviewer, limit, scope).rows


def waiting_on_others_page(session: Session, reviewer: User, limit: int = 50,
                           scope: chains.ReviewerScope | None = None) -> ChainPage:
    """Drafts in this reviewer's channels with multi-step chains, at a step someone else decides
    (for a glance), oldest first; and how many in all."""
    scope = scope or chains.reviewer_scope(session, reviewer)
    by_length = scope.multi_step_channels()
    if not by_length:
        return ChainPage()
    stmt = _waiting_statement(scope.shape(), tuple(sorted(by_length)))
    params = {f"length_{n}": sorted(ids) for n, ids in by_length.items()}
    return _chain_page(session, scope, stmt, {**params, "limit": limit})[0]


def waiting_on_others(session: Session, reviewer: User, limit: int = 50,
                      scope: chains.ReviewerScope | None = None) -> list[DraftRow]:
    return waiting_on_others_page(session, reviewer, limit, scope).rows


_PENDING_SCANS = (select(func.count(Draft.id)).join(Channel, Channel.id == Draft.channel_id)
                  .where(Draft.status.in_(("queued", "scanning")), Channel.leader_id == bindparam("leader_id")))


def in_review_count(session: Session, channel_id: int) -> int:
    """How many of a channel's drafts are in review (a chain change moves them on)."""
    return session.execute(select(func.count()).select_from(Draft).where(
        Draft.channel_id == channel_id, Draft.status == "in_review")).scalar_one()


def pending_scan_count(session: Session, leader: User) -> int:
    return session.execute(_PENDING_SCANS, {"leader_id": leader.id}).scalar_one()


_RECENT_DECISIONS = (select(Decision.decided_at, Decision.decision, Decision.version_number, Draft.id, Draft.title)
                     .join(Draft, Draft.id == Decision.draft_id).where(Decision.decided_by_id == bindparam("user_id"))
                     .order_by(Decision.decided_at.desc(), Decision.id.desc()).limit(bindparam("limit")))


@dataclass(slots=True)
class DecisionLine:
    decided_at: datetime
    decision: str
    version_number: int


@dataclass(slots=True)
class DraftTitle:
    id: int
    title: str


def recent_decisions(session: Session, leader: User, limit: int = 20) -> list[tuple[DecisionLine, DraftTitle]]:
    """The user's latest decisions with their drafts' titles (ix_decision_decider)."""
    return [(DecisionLine(at, decision, number), DraftTitle(draft_id, title))
            for at, decision, number, draft_id, title
            in session.execute(_RECENT_DECISIONS, {"user_id": leader.id, "limit": limit})]


# The queue page's two small reads in one statement: the one-row count, joined to the user's
# latest decisions (none: one row with NULLs). Each statement costs a request about a quarter
# of a millisecond of CPU whatever it reads.
_RECENT = _RECENT_DECISIONS.add_columns(Decision.id.label("decision_id")).subquery("recent")
_SCANNING = _PENDING_SCANS.subquery("scanning")
_RECENT_AND_SCANNING = (select(*_SCANNING.c, _RECENT.c.decided_at, _RECENT.c.decision, _RECENT.c.version_number,
                               _RECENT.c.id, _RECENT.c.title)
                        .select_from(_SCANNING).outerjoin(_RECENT, true())
                        .order_by(_RECENT.c.decided_at.desc(), _RECENT.c.decision_id.desc()))


def recent_and_scanning(session: Session, leader: User, limit: int = 10
                        ) -> tuple[list[tuple[DecisionLine, DraftTitle]], int]:
    """recent_decisions(leader, limit) and pending_scan_count(leader), in one statement."""
    recent, scanning = [], 0
    for scanning, at, decision, number, draft_id, title in session.connection().execute(
            _RECENT_AND_SCANNING, {"leader_id": leader.id, "user_id": leader.id, "limit": limit}):
        if draft_id is not None:
            recent.append((DecisionLine(at, decision, number), DraftTitle(draft_id, title)))
    return recent, scanning


_LAST_REJECTION = (select(Decision.comment, Decision.decided_at, User.display_name, DecisionRecord.step_name)
                   .join(User, User.id == Decision.decided_by_id)
                   .outerjoin(DecisionRecord, DecisionRecord.decision_id == Decision.id)
                   .where(Decision.draft_id == bindparam("draft_id"), Decision.decision == "reject")
                   .order_by(Decision.decided_at.desc(), Decision.id.desc()).limit(1))


def last_rejection(session: Session, draft_id: int):
    """The latest rejection of a draft (comment, decided_at, reviewer's name, step name), or None:
    what the editor revising it must see."""
    return session.execute(_LAST_REJECTION, {"draft_id": draft_id}).first()


_FLAGS = select(Flag).where(Flag.version_id == bindparam("version_id")).order_by(Flag.field, Flag.start, Flag.end)


def flags_for(session: Session, version_id: int) -> list[Flag]:
    return list(session.execute(_FLAGS, {"version_id": version_id}).scalars())


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

    @cached_property  # a view is made per request; the page asks several times
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

    @cached_property  # a view is made per request; the page asks several times
    def flags_by_category(self) -> list[tuple[str, list[Flag]]]:
        groups: dict[str, list[Flag]] = {}
        ordered = sorted(self.shown_flags, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.category, f.field, f.start))
        for f in ordered:
            groups.setdefault(f.category, []).append(f)
        return list(groups.items())

    @cached_property  # a view is made per request; the page asks several times
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


# Built once, run with parameters: the draft page runs them on every view, and building a
# select costs about as much as running one of these.
_DRAFT_HEAD = (select(Draft, Channel, Publication, User, exists().where(ChainStep.channel_id == Channel.id))
               .join(Channel, Channel.id == Draft.channel_id)
               .outerjoin(User, User.id == Draft.author_id)
               .outerjoin(Publication, Publication.draft_id == Draft.id)
               .where(Draft.id == bindparam("draft_id")))
# The versions with their scans, a row each. The flags come by a statement of their own: joined
# here, every flag's row carried its version's whole text (a 100,000-character draft with 12,800
# flags read about 5 GB and took half a minute).
_VERSIONS_SCANS = (select(DraftVersion, ScanResult)
                   .outerjoin(ScanResult, ScanResult.version_id == DraftVersion.id)
                   .where(DraftVersion.draft_id == bindparam("draft_id"))
                   .order_by(DraftVersion.number.desc()))
_DECISIONS_AND_RECORDS = (select(Decision, DecisionRecord)
                          .outerjoin(DecisionRecord, DecisionRecord.decision_id == Decision.id)
                          .where(Decision.draft_id == bindparam("draft_id"))
                          .order_by(Decision.decided_at.desc(), Decision.id.desc()))


@dataclass
class DraftHead:
    """A draft with what every view of it needs first, in one query: its channel, its
    publication, its author, and whether the channel has a chain of its own."""

    draft: Draft
    channel: Channel
    publication: Publication | None
    author: User | None
    own_chain: bool  # False: the default chain, nothing to load


def draft_head(session: Session, draft_id: int) -> DraftHead | None:
    row = session.execute(_DRAFT_HEAD, {"draft_id": draft_id}).first()
    return DraftHead(*row) if row else None


def draft_view(session: Session, draft: Draft, show_low: bool = False, head: DraftHead | None = None) -> DraftView:
    head = head or draft_head(session, draft.id)
    channel, publication = head.channel, head.publication
    versions, scans = [], {}
    for v, scan in session.execute(_VERSIONS_SCANS, {"draft_id": draft.id}):
        if v.id not in scans:  # (one scan result per version; the first, should there be more)
            versions.append(v)
            scans[v.id] = scan
    version = next((v for v in versions if v.id == draft.current_version_id), None)
    flags = flags_for(session, version.id) if version else []
    scan = scans.get(version.id) if version else None
    decisions, records = [], {}
    for d, record in session.execute(_DECISIONS_AND_RECORDS, {"draft_id": draft.id}):
        decisions.append(d)
        if record is not None:
            records[d.id] = record
    current = {d.step: d for d in decisions if d.version_id == draft.current_version_id}
    chain = chains.state(session, draft, channel, with_reviewers=True, decisions=current,
                         chains=None if head.own_chain else {})
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
