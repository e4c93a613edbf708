"""Deadlines: urgent drafts within the channel's minutes, normal ones within
working days; overdue marks in the queues; escalation at the deadline by a
worker running RQ's scheduler."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from review import deadlines, workflow
from review.models import AuditEvent, Draft, Escalation, Notification
from review.timeutil import CST, now
from tests.factories import WebUser
from workers import notify
from workers import worker as worker_mod

DEADLINE_SECONDS = 3


def test_deadline_rules():
    friday = datetime(2026, 11, 27, 16, 0, tzinfo=CST)
    assert deadlines.add_working_days(friday, 2) == datetime(2026, 12, 1, 16, 0, tzinfo=CST)  # Tuesday
    assert deadlines.add_working_days(datetime(2026, 11, 24, 9, 0, tzinfo=CST), 2).day == 26
    deadlines.configure({"NORMAL_DEADLINE_WORKING_DAYS": 2})

    class Channel:
        urgent_deadline_minutes = 45

    at = now()
    assert deadlines.deadline_for(Channel, True, at) == at + timedelta(minutes=45)
    assert deadlines.deadline_for(Channel, False, at) > at + timedelta(days=2)


@pytest.mark.app_config(URGENT_DEADLINE_SECONDS=DEADLINE_SECONDS)
def test_overdue_urgent_draft_is_escalated_by_the_worker_scheduler(app, rt, make, db):
    editor, leader, channel, auditor, _ = make.team()
    second, = make.users(("second", "leader", "复审钱"))
    from review import chains

    with db.transaction() as s:
        registrar = make.users(("reg2", "registrar"))[0]
        chains.set_chain(s, registrar, channel, [chains.Step(1, "复审", "user", second.id),
                                                 chains.Step(2, "终审", "leader")])
    rt.engines.get()  # the worker's preload (jieba) before the clock starts
    draft, version = make.submit(editor, channel, title="紧急通知", urgent=True)
    # Submitting scheduled the escalation with RQ's scheduler, at the deadline.
    scheduled = ScheduledJobRegistry(rt.settings["NOTIFY_QUEUE"], connection=rt.redis)
    assert notify.escalation_job_id(rt, version.id) in scheduled.get_job_ids()
    make.scanned(rt, version.id)

    # Before the deadline a worker with its scheduler finds nothing due.
    worker_mod.run(rt, burst=True, with_scheduler=True)
    with db.transaction() as s:
        deadline = s.get(Draft, draft.id).deadline_at
        assert s.execute(select(Escalation)).first() is None or now() >= deadline  # (a very slow machine)
        deadline = s.get(Draft, draft.id).deadline_at
    time.sleep(max(0.0, (deadline - now()).total_seconds()) + 0.2)

    # Overdue: marked in the reviewer's queue and the editor's list.
    assert "已超时" in WebUser.signed_in(app, second).get("/review").get_data(as_text=True)
    assert "已超时" in WebUser.signed_in(app, editor).get("/drafts").get_data(as_text=True)

    worker_mod.run(rt, burst=True, with_scheduler=True)  # the scheduler enqueues the due job; the worker runs it
    with db.transaction() as s:
        escalation = s.execute(select(Escalation)).scalars().one()
        told = {n.user_id: n.text for n in s.execute(select(Notification).where(Notification.kind == "deadline")).scalars()}
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "draft.escalated")).scalars().one()
    assert escalation.version_id == version.id and escalation.step == 1
    assert set(told) == {second.id, leader.id}  # the pending step's reviewer and the supervising leader
    assert "紧急稿件《紧急通知》已超过审核时限" in told[leader.id] and "停在“复审”" in told[leader.id]
    assert event.draft_id == draft.id

    # Running again (or a sweep) never escalates twice.
    with db.transaction() as s:
        assert deadlines.escalate(s, draft.id, version.id) is None
    assert notify.sweep(rt)["escalations"] == []


def test_a_draft_decided_before_its_deadline_is_not_escalated(app, rt, make, db):
    editor, leader, channel, *_ = make.team()
    draft, version = make.submit(editor, channel, urgent=True)
    make.scanned(rt, version.id)
    with db.transaction() as s:
        workflow.decide(s, leader, draft.id, "approve", version=1)
    with db.transaction() as s:
        s.get(Draft, draft.id).deadline_at = now() - timedelta(minutes=1)
    with db.transaction() as s:
        assert deadlines.escalate(s, draft.id, version.id) is None
        assert deadlines.overdue_open_versions(s) == []


def test_a_superseded_version_is_not_escalated_but_the_new_one_is_overdue_in_the_sweep(app, rt, make, db):
    editor, leader, channel, *_ = make.team()
    draft, v1 = make.submit(editor, channel)
    with db.transaction() as s:
        _, v2, _ = workflow.submit(s, editor, channel.id, "通知", "新的正文。", draft_id=draft.id)
    with db.transaction() as s:
        s.get(Draft, draft.id).deadline_at = now() - timedelta(seconds=1)
    with db.transaction() as s:
        assert deadlines.escalate(s, draft.id, v1.id) is None
        assert deadlines.overdue_open_versions(s) == [(draft.id, v2.id)]
