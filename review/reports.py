"""The quarterly report: what was submitted, decided, published and flagged,
how fast reviews were, and the state of the registry.

Every figure comes from an aggregate SQL query over indexed ranges
(review/models/reporting.py): nothing loops over drafts or flags in Python.
Review-time percentiles are nearest-rank, picked in SQL with window
functions, so the same query runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select, true
from sqlmodel import Session

from review.channels import needs_reminder
from review.errors import ValidationError
from review.models import Channel, Decision, Draft, DraftVersion, Flag, Publication, User
from review.models.channels import ANNUAL_CHECK_DAYS, FILING_LABELS, local_today
from review.timeutil import CST, now
from review.validation import as_int

TOP_TERMS = 15
COUNTS = ("submitted", "approved", "rejected", "published", "retracted", "flags", "decided", "overdue")


@dataclass
class Figures:
    """One row of the report: a channel, or the total."""

    submitted: int = 0
    approved: int = 0
    rejected: int = 0
    published: int = 0
    retracted: int = 0
    flags: int = 0
    decided: int = 0  # decisions taken in the quarter (the review-time population)
    overdue: int = 0  # urgent reviews decided after their deadline, or still open past it
    median_s: float | None = None
    p90_s: float | None = None


@dataclass
class ChannelFigures:
    channel: Channel
    figures: Figures


@dataclass
class QuarterReport:
    year: int
    quarter: int
    first_day: date
    last_day: date
    scope_label: str
    channels: list[ChannelFigures]
    total: Figures
    flags_by: dict[tuple[str, str], int]  # (category, severity) -> count
    top_terms: list[tuple[str, str, int]]  # (term, category, count)
    registry: dict[str, int] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.year}年第{self.quarter}季度"

    @property
    def flag_categories(self) -> list[tuple[str, dict[str, int], int]]:
        """(category, {severity: count}, total) ordered by total, largest first."""
        out: dict[str, dict[str, int]] = {}
        for (category, severity), n in self.flags_by.items():
            out.setdefault(category, {})[severity] = n
        return sorted(((c, s, sum(s.values())) for c, s in out.items()), key=lambda r: (-r[2], r[0]))

    @property
    def flags_by_severity(self) -> dict[str, int]:
        out = {"high": 0, "medium": 0, "low": 0}
        for (_category, severity), n in self.flags_by.items():
            out[severity] = out.get(severity, 0) + n
        return out


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime, date, date]:
    """The quarter in China time, as UTC instants [start, end) and its first and last day."""
    first = date(year, 3 * quarter - 2, 1)
    after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    start = datetime(first.year, first.month, 1, tzinfo=CST)
    end = datetime(after.year, after.month, 1, tzinfo=CST)
    return start, end, first, after - timedelta(days=1)


def current_quarter(today: date | None = None) -> tuple[int, int]:
    today = today or local_today()
    return today.year, (today.month - 1) // 3 + 1


def parse_period(year, quarter) -> tuple[int, int]:
    """Year and quarter from a form; missing means the current quarter."""
    if year in (None, "") and quarter in (None, ""):
        return current_quarter()
    y, q = as_int(year), as_int(quarter)
    if y is None or not 2000 <= y <= 2100:
        raise ValidationError("年份应为2000到2100之间的数字", field="year")
    if q is None or not 1 <= q <= 4:
        raise ValidationError("季度应为1到4", field="quarter")
    return y, q


def scope_channels(session: Session, user: User, channel_id=None, unit: str = "") -> list[Channel]:
    """The channels a report covers: what the user may see, narrowed by channel or unit."""
    stmt = select(Channel).order_by(Channel.name)
    if not user.has_role("auditor", "registrar"):
        if not user.has_role("leader"):
            return []
        stmt = stmt.where(Channel.leader_id == user.id)  # leaders: their own channels only
    if channel_id not in (None, ""):
        key = as_int(channel_id)
        if key is None:
            raise ValidationError("渠道无效", field="channel_id")
        stmt = stmt.where(Channel.id == key)
    if unit:
        stmt = stmt.where(Channel.unit == unit)
    return list(session.execute(stmt).scalars())


def _seconds(session: Session, start, end):
    """end - start in seconds, as SQL on the session's database."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def build(session: Session, year: int, quarter: int, channels: list[Channel], scope_label: str = "全部渠道",
          today: date | None = None, glance: bool = False) -> QuarterReport:
    """The report. `glance` (the auditor's dashboard) leaves out flags and review times."""
    start, end, first_day, last_day = quarter_bounds(year, quarter)
    ids = [c.id for c in channels]
    per: dict[int, Figures] = {cid: Figures() for cid in ids}
    report = QuarterReport(year, quarter, first_day, last_day, scope_label,
                           [ChannelFigures(c, per[c.id]) for c in channels], Figures(), {}, [])
    if not ids:
        report.registry = registry_state(session, ids)
        return report
    # Every channel in scope: no filter at all, so the planner ranges over the period's index alone.
    everything = session.execute(select(func.count()).select_from(Channel)).scalar_one() == len(ids)
    in_scope = true() if everything else Draft.channel_id.in_(ids)

    def put(rows, attr):
        for cid, n in rows:
            setattr(per[cid], attr, int(n or 0))

    # Drafts first submitted in the quarter (version 1).
    put(session.execute(
        select(Draft.channel_id, func.count()).select_from(DraftVersion)
        .join(Draft, Draft.id == DraftVersion.draft_id)
        .where(DraftVersion.created_at >= start, DraftVersion.created_at < end, DraftVersion.number == 1, in_scope)
        .group_by(Draft.channel_id)), "submitted")

    # Drafts approved / rejected in the quarter (a draft rejected twice counts once).
    for cid, kind, n in session.execute(
            select(Draft.channel_id, Decision.decision, func.count(func.distinct(Decision.draft_id)))
            .select_from(Decision).join(Draft, Draft.id == Decision.draft_id)
            .where(Decision.decided_at >= start, Decision.decided_at < end, in_scope)
            .group_by(Draft.channel_id, Decision.decision)):
        setattr(per[cid], "approved" if kind == "approve" else "rejected", int(n))

    for column, attr in ((Publication.published_at, "published"), (Publication.retracted_at, "retracted")):
        put(session.execute(
            select(Draft.channel_id, func.count()).select_from(Publication)
            .join(Draft, Draft.id == Publication.draft_id)
            .where(column >= start, column < end, in_scope).group_by(Draft.channel_id)), attr)

    # Flags (shown ones: low confidence is left out) on versions submitted in the quarter: one pass
    # grouped by channel, category, severity and term; the result is small (channels x terms).
    terms: dict[tuple[str, str], int] = {}
    flag_rows = [] if glance else session.execute(
            select(Draft.channel_id, Flag.category, Flag.severity, Flag.term, func.count()).select_from(DraftVersion)
            .join(Draft, Draft.id == DraftVersion.draft_id).join(Flag, Flag.version_id == DraftVersion.id)
            .where(DraftVersion.created_at >= start, DraftVersion.created_at < end, in_scope,
                   Flag.confidence.in_(("high", "medium")))
            .group_by(Draft.channel_id, Flag.category, Flag.severity, Flag.term))
    for cid, category, severity, term, n in flag_rows:
        n = int(n)
        per[cid].flags += n
        report.flags_by[(category, severity)] = report.flags_by.get((category, severity), 0) + n
        terms[(term, category)] = terms.get((term, category), 0) + n
    ranked_terms = sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TERMS]
    report.top_terms = [(term, category, n) for (term, category), n in ranked_terms]

    # Review time: submission of the version -> the decision on it, for decisions taken in the quarter.
    seconds = _seconds(session, DraftVersion.created_at, Decision.decided_at)
    late = case((and_(Draft.deadline_at.is_not(None), Decision.decided_at > Draft.deadline_at), 1), else_=0)
    decided = (select(Draft.channel_id.label("cid"), seconds.label("s"), late.label("late"))
               .select_from(Decision).join(DraftVersion, DraftVersion.id == Decision.version_id)
               .join(Draft, Draft.id == Decision.draft_id)
               .where(Decision.decided_at >= start, Decision.decided_at < end, in_scope)).subquery()
    total_p = (None, None)
    for cid, median, p90, n, overdue, t_median, t_p90 in ([] if glance else _percentiles(session, decided)):
        if cid is not None:
            per[cid].decided, per[cid].overdue = int(n), int(overdue or 0)
            per[cid].median_s, per[cid].p90_s = median, p90
        if t_median is not None or t_p90 is not None:
            total_p = (t_median if t_median is not None else total_p[0], t_p90 if t_p90 is not None else total_p[1])

    # Urgent drafts still waiting past a deadline that fell in the quarter.
    cutoff = min(end, now())
    for cid, n in session.execute(
            select(Draft.channel_id, func.count()).where(
                in_scope, Draft.status.in_(("queued", "scanning", "in_review")), Draft.deadline_at.is_not(None),
                Draft.deadline_at >= start, Draft.deadline_at < cutoff).group_by(Draft.channel_id)):
        per[cid].overdue += int(n)

    total = report.total
    for name in COUNTS:
        setattr(total, name, sum(getattr(f, name) for f in per.values()))
    total.median_s, total.p90_s = total_p
    report.registry = registry_state(session, ids, today)
    return report


def _percentiles(session: Session, decided):
    """One pass over the period's decisions, ranked per channel and overall (nearest rank).
    Yields (channel, median, p90, count, overdue, total median, total p90) for the few rows
    that hold a percentile; the totals are set on the rows that hold them."""
    c = decided.c
    ranked = select(
        c.cid, c.s,
        func.row_number().over(partition_by=c.cid, order_by=c.s).label("rn"),
        func.count().over(partition_by=c.cid).label("n"),
        func.sum(c.late).over(partition_by=c.cid).label("late"),
        func.row_number().over(order_by=c.s).label("trn"),
        func.count().over().label("tn"),
    ).subquery()
    r = ranked.c
    picks = ((r.rn == (r.n + 1) // 2) | (r.rn == (r.n * 9 + 9) // 10) | (r.rn == 1)
             | (r.trn == (r.tn + 1) // 2) | (r.trn == (r.tn * 9 + 9) // 10))
    rows = session.execute(select(r.cid, r.s, r.rn, r.n, r.late, r.trn, r.tn).where(picks)).all()
    per: dict = {}
    for cid, s, rn, n, late, trn, tn in rows:
        entry = per.setdefault(cid, [None, None, n, late, None, None])
        if rn == (n + 1) // 2:
            entry[0] = float(s)
        if rn == (n * 9 + 9) // 10:
            entry[1] = float(s)
        if trn == (tn + 1) // 2:
            entry[4] = float(s)
        if trn == (tn * 9 + 9) // 10:
            entry[5] = float(s)
    for cid, (median, p90, n, late, t_median, t_p90) in per.items():
        yield cid, median, p90, n, late, t_median, t_p90


def registry_state(session: Session, ids: list[int], today: date | None = None) -> dict[str, int]:
    """Accounts by filing status, and how many need a reminder (as of today)."""
    state = {code: 0 for code in FILING_LABELS}
    if not ids:  # filters that match no channel: an empty report, every count zero
        return {**state, "refiling_overdue": 0, "annual_overdue": 0, "needs_reminder": 0}
    today = today or local_today()
    in_scope = Channel.id.in_(ids)
    for status, n in session.execute(select(Channel.filing_status, func.count()).where(in_scope)
                                     .group_by(Channel.filing_status)):
        state[status] = int(n)
    checked = func.coalesce(Channel.last_annual_check, Channel.filing_date)
    state["refiling_overdue"] = session.execute(select(func.count()).where(
        in_scope, Channel.filing_status == "refiling", Channel.refiling_due < today)).scalar_one()
    state["annual_overdue"] = session.execute(select(func.count()).where(
        in_scope, Channel.filing_status.in_(("filed", "refiling")),
        checked.is_(None) | (checked < today - timedelta(days=ANNUAL_CHECK_DAYS)))).scalar_one()
    state["needs_reminder"] = session.execute(select(func.count()).where(in_scope, needs_reminder(today))).scalar_one()
    return state


# How the report names its two review-time figures (the median and the 90th
# percentile): office staff read "half of the drafts", not "P90".
MEDIAN_LABEL = "半数稿件审核用时不超过"
P90_LABEL = "九成稿件审核用时不超过"


def duration_label(seconds: float | None) -> str:
    """'—', '45秒', '2分54秒', '12分', '3小时5分', '2天4小时': rounded to the last unit shown,
    never cut down (2.9 minutes is not '2分'); seconds are shown below ten minutes."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s}秒"
    if s < 600:
        minutes, rest = divmod(s, 60)
        return f"{minutes}分{rest}秒" if rest else f"{minutes}分"
    minutes = int(round(s / 60))
    if minutes < 60:
        return f"{minutes}分"
    if minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours}小时{minutes}分" if minutes else f"{hours}小时"
    days, hours = divmod(int(round(minutes / 60)), 24)
    return f"{days}天{hours}小时" if hours else f"{days}天"
