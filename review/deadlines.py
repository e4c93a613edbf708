"""Review deadlines and their escalation.

Urgent drafts must be decided within the channel's minutes (default 30);
normal ones within NORMAL_DEADLINE_WORKING_DAYS working days (Monday to
Friday, China time; public holidays are not known). When a version is
submitted its deadline is handed, after the commit, to RQ's scheduler; at the
deadline `escalate` tells the pending step's reviewers and the channel's
supervising leader, once per version.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlmodel import Session

from review import aftercommit, audit, chains, delegation, notifications
from review.models import Channel, Draft, DraftVersion, Escalation, User
from review.timeutil import CST, fmt, now

OPEN = ("queued", "scanning", "in_review")


@dataclass
class Policy:
    normal_working_days: int = 2
    urgent_seconds: int | None = None  # overrides every channel's minutes (drills and tests)


_policy = Policy()


def configure(settings: dict) -> None:
    """Called once per process from the app factory's settings."""
    global _policy
    seconds = settings.get("URGENT_DEADLINE_SECONDS")
    _policy = Policy(normal_working_days=int(settings.get("NORMAL_DEADLINE_WORKING_DAYS", 2)),
                     urgent_seconds=int(seconds) if seconds else None)


def add_working_days(start: datetime, days: int) -> datetime:
    """`days` working days after `start` (same time of day, China time, weekends skipped)."""
    local = start.astimezone(CST)
    added = 0
    while added < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            added += 1
    return local.astimezone(start.tzinfo)


def deadline_for(channel: Channel, urgent: bool, at: datetime) -> datetime:
    if urgent:
        if _policy.urgent_seconds:
            return at + timedelta(seconds=_policy.urgent_seconds)
        return at + timedelta(minutes=channel.urgent_deadline_minutes or 30)
    return add_working_days(at, _policy.normal_working_days)


def start_clock(session: Session, draft: Draft, version_id: int) -> None:
    """Schedule the escalation of a new version's deadline, after the commit."""
    if draft.deadline_at is None:
        return
    aftercommit.defer(session, "escalate", (draft.id, version_id, draft.deadline_at))


def escalate(session: Session, draft_id: int, version_id: int) -> Escalation | datetime | None:
    """At the deadline: tell the pending step's reviewers and the supervising leader.

    Returns the Escalation, None when there is nothing to do (decided,
    superseded, already escalated), or the new deadline if it moved later
    (the caller schedules again)."""
    draft = session.get(Draft, draft_id)
    if draft is None or draft.current_version_id != version_id or draft.status not in OPEN:
        return None
    if draft.deadline_at and draft.deadline_at > now() + timedelta(seconds=1):
        return draft.deadline_at
    if session.execute(select(exists().where(Escalation.version_id == version_id))).scalar():
        return None
    channel = session.get(Channel, draft.channel_id)
    state = chains.state(session, draft, channel, with_reviewers=True)
    pending = state.pending
    if pending is None and draft.status == "in_review":
        return None
    step = pending or state.steps[0]
    row = Escalation(draft_id=draft.id, version_id=version_id, step=step.step.position)
    session.add(row)
    session.flush()  # unique per version: a second job at the same moment fails here and changes nothing
    version = session.get(DraftVersion, version_id)
    leader = session.get(User, channel.leader_id)
    recipients = [*step.reviewers, *delegation.deputies_of(session, step.reviewers, now()), leader]
    where = "尚未完成敏感词检测" if draft.status != "in_review" else f"停在“{step.step.name}”"
    notifications.notify(session, recipients, "deadline",
                         f"{'紧急稿件' if draft.urgent else '稿件'}《{draft.title}》已超过审核时限"
                         f"（{fmt(draft.deadline_at)}），{where}，请尽快处理",
                         draft=draft, channel=channel)
    audit.record(session, "draft.escalated", None, draft_id=draft.id, channel_id=channel.id,
                 version=version.number, step=step.step.position, step_name=step.step.name,
                 deadline=fmt(draft.deadline_at), notified=[u.id for u in recipients if u])
    return row


def overdue_open_versions(session: Session) -> list[tuple[int, int]]:
    """(draft id, version id) past their deadline and not yet escalated: for a sweep."""
    stmt = (select(Draft.id, Draft.current_version_id)
            .where(Draft.status.in_(OPEN), Draft.deadline_at.is_not(None), Draft.deadline_at <= now(),
                   Draft.current_version_id.is_not(None))
            .where(~exists().where(Escalation.version_id == Draft.current_version_id)))
    return [(d, v) for d, v in session.execute(stmt)]
