"""What each role sees first on login: the editor's drafts by status, the
leader's queue with its overdue count, the registrar's filing reminders, the
auditor's quarter at a glance."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session

from review import channels as registry
from review import queries, reports
from review.models import Channel, Draft, User
from review.models.drafts import STATUS_LABELS


QUEUE_ROWS = 10  # the home page shows the most urgent few; the counts cover the whole queue


@dataclass
class Dashboard:
    editor_counts: list[tuple[str, int]] = field(default_factory=list)  # (status, count), in workflow order
    editor_recent: list = field(default_factory=list)
    queue: list = field(default_factory=list)  # the first rows of the leader's queue
    queue_total: int = 0  # how many wait in all
    queue_overdue: int = 0
    reminders: list[Channel] = field(default_factory=list)
    my_channel_reminders: list[Channel] = field(default_factory=list)
    quarter: reports.QuarterReport | None = None


def build(session: Session, user: User) -> Dashboard:
    user = getattr(user, "_get_current_object", lambda: user)()  # the queue checks the user per draft
    board = Dashboard()
    if user.has_role("editor"):
        counts = dict(session.execute(select(Draft.status, func.count()).where(Draft.author_id == user.id)
                                      .group_by(Draft.status)).all())
        board.editor_counts = [(s, int(counts[s])) for s in STATUS_LABELS if counts.get(s)]
        board.editor_recent = queries.editor_drafts(session, user, limit=8)
    if user.has_role("leader"):
        queue = queries.review_queue_page(session, user, limit=QUEUE_ROWS)
        board.queue, board.queue_total, board.queue_overdue = queue.rows, queue.total, queue.overdue
        mine = [c.id for c in session.execute(select(Channel).where(Channel.leader_id == user.id)).scalars()]
        board.my_channel_reminders = registry.reminder_channels(session, mine) if mine else []
    if user.has_role("registrar"):
        board.reminders = registry.reminder_channels(session)
    if user.has_role("auditor"):
        year, quarter = reports.current_quarter()
        board.quarter = reports.build(session, year, quarter, reports.scope_channels(session, user), glance=True)
    return board
