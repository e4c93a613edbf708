"""Delegation: a leader names a deputy for a date range; the deputy's
decisions record both names ("张三 代 李四")."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from review import delegation, workflow
from review.errors import Forbidden, ValidationError
from review.models import AuditEvent, DecisionRecord, Delegation, Draft, Notification
from tests.factories import WebUser


def test_a_deputys_decision_records_both_names(app, rt, make, db):
    editor, leader, channel, *_ = make.team()  # leader is 王领导
    deputy, = make.users(("deputy", "leader", "张三"))
    today = delegation.today_local()
    web_leader = WebUser.signed_in(app, leader)
    response = web_leader.post("/delegations", {"deputy_id": deputy.id, "starts_on": today.isoformat(),
                                                "ends_on": (today + timedelta(days=3)).isoformat(), "reason": "出差"})
    assert response.status_code == 302
    with db.transaction() as s:
        told = s.execute(select(Notification).where(Notification.user_id == deputy.id)).scalars().one()
    assert "王领导 委托您" in told.text

    draft, version = make.submit(editor, channel, title="秋季防火")
    make.scanned(rt, version.id)
    web_deputy = WebUser.signed_in(app, deputy)
    assert "代 王领导" in web_deputy.get("/review").get_data(as_text=True)
    page = web_deputy.get(f"/drafts/{draft.id}").get_data(as_text=True)
    assert "您正在代 王领导 审核" in page
    response = web_deputy.post(f"/drafts/{draft.id}/decision", {"decision": "approve", "version": 1, "comment": "同意"})
    assert response.status_code == 302
    with db.transaction() as s:
        assert s.get(Draft, draft.id).status == "approved"
        record = s.execute(select(DecisionRecord)).scalars().one()
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "draft.approved")).scalars().one()
    assert record.on_behalf_of_id == leader.id and record.delegation_id is not None
    assert event.actor_name == "张三" and '"on_behalf_of_name":"王领导"' in event.detail
    page = web_leader.get(f"/drafts/{draft.id}").get_data(as_text=True)
    assert "张三 代 王领导" in page
    assert "张三 代 王领导" in web_leader.get(f"/drafts/{draft.id}/form").get_data(as_text=True)


def test_outside_its_dates_or_once_revoked_a_delegation_gives_no_right(app, rt, make, db):
    editor, leader, channel, *_ = make.team()
    deputy, = make.users(("deputy", "leader", "张三"))
    today = delegation.today_local()
    with db.transaction() as s:
        later = delegation.create(s, leader, deputy.id, today + timedelta(days=2), today + timedelta(days=5))
    draft, version = make.submit(editor, channel)
    make.scanned(rt, version.id)
    with db.transaction() as s, pytest.raises(Forbidden):
        workflow.decide(s, deputy, draft.id, "approve", version=1)
    with db.transaction() as s:
        grant = delegation.create(s, leader, deputy.id, today, today)
    with db.transaction() as s:
        delegation.revoke(s, leader, grant.id)
    with db.transaction() as s, pytest.raises(Forbidden):
        workflow.decide(s, deputy, draft.id, "approve", version=1)
    assert WebUser.signed_in(app, deputy).get(f"/drafts/{draft.id}").status_code == 403
    # Only the one who gave a delegation revokes it; bad ranges are refused.
    with db.transaction() as s, pytest.raises(Forbidden):
        delegation.revoke(s, deputy, later.id)
    with db.transaction() as s, pytest.raises(ValidationError, match="结束日期不能早于开始日期"):
        delegation.create(s, leader, deputy.id, today, today - timedelta(days=1))
    with db.transaction() as s, pytest.raises(ValidationError, match="不能指定自己"):
        delegation.create(s, leader, leader.id, today, today)
    response = WebUser.signed_in(app, leader).post("/delegations", {"deputy_id": deputy.id, "starts_on": "昨天",
                                                                    "ends_on": today.isoformat()})
    assert response.status_code == 422 and "日期格式应为" in response.get_data(as_text=True)
    with db.transaction() as s:
        assert len(s.execute(select(Delegation)).all()) == 2
    assert WebUser.signed_in(app, editor).get("/delegations").status_code == 403
