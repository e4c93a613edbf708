"""Review chains: ordered steps, all approving the same version; rejection
at any step; an edit voids approvals, an unchanged save keeps them; the
queue, the page and the API act on the caller's step; registrars edit chains."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update

from review import chains, workflow
from review.errors import Conflict, Forbidden
from review.models import AuditEvent, ChainStep, Decision, DecisionRecord, Draft, DraftVersion, Notification
from tests.factories import WebUser


def three_step_world(make, db, rt, body="这是一篇普通的通知。"):
    """editor writes; 初审 by a named editor (not a leader), 复审 by a named leader, 终审 by the channel's leader."""
    editor, first, second, leader, registrar = make.users(
        ("editor", "editor", "张编辑"), ("first", "editor", "初审赵"), ("second", "leader", "复审钱"),
        ("leader", "leader", "王领导"), ("registrar", "registrar", "周管理"))
    channel = make.channel(leader, "城南发布")
    with db.transaction() as s:
        chains.set_chain(s, registrar, channel, [
            chains.Step(1, "初审", "user", first.id), chains.Step(2, "复审", "user", second.id),
            chains.Step(3, "终审", "leader")])
    draft, version = make.submit(editor, channel, body=body)
    make.scanned(rt, version.id)
    return editor, first, second, leader, channel, draft


def decide(db, user, draft_id, decision="approve", version=1, comment=""):
    with db.transaction() as s:
        return workflow.decide(s, user, draft_id, decision, comment, version=version)


def status(db, draft_id):
    with db.transaction() as s:
        return s.get(Draft, draft_id).status


def notes(db, user):
    with db.transaction() as s:
        return [(n.kind, n.text) for n in s.execute(select(Notification).where(Notification.user_id == user.id)
                                                     .order_by(Notification.id)).scalars()]


def test_three_step_chain_approved_end_to_end_through_page_api_and_queue(app, make, db, rt, client):
    editor, first, second, leader, channel, draft = three_step_world(make, db, rt)
    web_first, web_leader = WebUser.signed_in(app, first), WebUser.signed_in(app, leader)

    # Only the first step's reviewer has it in the queue; the others cannot jump ahead.
    assert "通知" in web_first.get("/review").get_data(as_text=True)
    assert "目前没有等待您审核的稿件" in web_leader.get("/review").get_data(as_text=True)
    page = web_leader.get(f"/drafts/{draft.id}").get_data(as_text=True)
    assert 'name="decision"' not in page and "初审赵" in page
    with pytest.raises(Conflict, match="正在等待“初审”"):
        decide(db, leader, draft.id)

    # Step 1 on the web by an editor named in the chain; the page says where it goes next.
    page = web_first.get(f"/drafts/{draft.id}").get_data(as_text=True)
    assert "审核：初审" in page and "通过，送“复审”" in page
    response = web_first.post(f"/drafts/{draft.id}/decision", {"decision": "approve", "version": 1})
    assert response.status_code == 302 and response.headers["Location"].endswith("/review")
    assert status(db, draft.id) == "in_review"
    # Told that it moved on, not that it was approved (it was not, yet).
    told = web_first.get("/review").get_data(as_text=True)
    assert "《通知》本步已通过，转“复审”审核" in told and "已审核通过" not in told
    assert ("submitted", "《通知》第1版已通过“初审”（初审赵），请您“复审”") in notes(db, second)

    # Step 2 through the API: the decision applies to the step the caller may act on.
    token = make.token("second")
    response = client.post(f"/api/v1/drafts/{draft.id}/decision", headers={"Authorization": f"Bearer {token}"},
                           json={"decision": "approve", "version": 1})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "in_review"
    # The same reviewer again: refused, nothing recorded.
    response = client.post(f"/api/v1/drafts/{draft.id}/decision", headers={"Authorization": f"Bearer {token}"},
                           json={"decision": "approve", "version": 1})
    assert response.status_code == 409

    # Step 3: the supervising leader's queue now lists it with the step.
    queue = web_leader.get("/review").get_data(as_text=True)
    assert "终审 · 第3步/共3步" in queue
    response = web_leader.post(f"/drafts/{draft.id}/decision", {"decision": "approve", "version": 1})
    assert response.status_code == 302
    assert status(db, draft.id) == "approved"
    assert "《通知》已审核通过" in web_leader.get(response.headers["Location"]).get_data(as_text=True)

    with db.transaction() as s:
        rows = s.execute(select(Decision).where(Decision.draft_id == draft.id).order_by(Decision.step)).scalars().all()
        sha = s.get(DraftVersion, draft.current_version_id).content_sha256
        names = [s.get(DecisionRecord, d.id).step_name for d in rows]
        actions = s.execute(select(AuditEvent.action).where(AuditEvent.draft_id == draft.id)
                            .order_by(AuditEvent.seq)).scalars().all()
    assert [(d.step, d.decided_by_id, d.content_sha256) for d in rows] == [
        (1, first.id, sha), (2, second.id, sha), (3, leader.id, sha)]
    assert names == ["初审", "复审", "终审"]
    assert actions[-3:] == ["draft.step_approved", "draft.step_approved", "draft.approved"]
    assert any("已通过全部审核" in t for _, t in notes(db, editor))

    with db.transaction() as s:
        workflow.publish(s, editor, draft.id, "https://mp.weixin.qq.com/s/x", None)
    assert status(db, draft.id) == "published"


def test_rejection_at_step_two_returns_to_editor_and_tells_step_one(app, make, db, rt):
    editor, first, second, leader, channel, draft = three_step_world(make, db, rt)
    decide(db, first, draft.id)
    decide(db, second, draft.id, "reject", comment="第二段数据需核实")
    assert status(db, draft.id) == "rejected"
    assert ("rejected", "您已通过的《通知》第1版在“复审”被复审钱退回：第二段数据需核实") in notes(db, first)
    assert any(k == "rejected" and "第二段数据需核实" in t for k, t in notes(db, editor))
    assert not any(k == "rejected" for k, _ in notes(db, leader))  # step 3 never approved: not told
    with pytest.raises(Conflict):
        decide(db, leader, draft.id)
    # The editor revising it reads the comment where they revise, with who made it at which step.
    form = WebUser.signed_in(app, editor).get(f"/drafts/{draft.id}/edit").get_data(as_text=True)
    box = form.split('id="rejection"')[1].split("</div>")[0]
    assert "<blockquote>第二段数据需核实</blockquote>" in box and "复审钱（复审）" in box


def test_an_edit_after_step_one_voids_its_approval(app, make, db, rt):
    editor, first, second, leader, channel, draft = three_step_world(make, db, rt)
    decide(db, first, draft.id)
    with db.transaction() as s:
        _, version, created = workflow.submit(s, editor, channel.id, "通知", "改过的正文。", draft_id=draft.id)
    assert created and version.number == 2
    make.scanned(rt, version.id)
    # The approval of version 1 does not carry over: step 2 must wait for a new 初审.
    with pytest.raises(Conflict, match="正在等待“初审”"):
        decide(db, second, draft.id, version=2)
    with pytest.raises(Conflict, match="第2版"):
        decide(db, first, draft.id, version=1)
    decide(db, first, draft.id, version=2)
    decide(db, second, draft.id, version=2)
    decide(db, leader, draft.id, version=2)
    with db.transaction() as s:
        assert {d.version_number for d in s.execute(select(Decision).where(
            Decision.draft_id == draft.id, Decision.step > 1)).scalars()} == {2}
    assert status(db, draft.id) == "approved"


def test_an_unchanged_save_keeps_the_chain(app, make, db, rt):
    editor, first, second, leader, channel, draft = three_step_world(make, db, rt)
    decide(db, first, draft.id)
    with db.transaction() as s:
        same, version, created = workflow.submit(s, editor, channel.id, "通知", "这是一篇普通的通知。",
                                                 draft_id=draft.id)
    assert not created and version.number == 1
    decide(db, second, draft.id)  # still step 2 of version 1
    assert status(db, draft.id) == "in_review"


def test_publishing_is_refused_when_the_text_differs_from_the_approved_hash(app, make, db, rt):
    editor, first, second, leader, channel, draft = three_step_world(make, db, rt)
    for user in (first, second, leader):
        decide(db, user, draft.id)
    # The stored text is changed behind the application's back after approval.
    with db.transaction() as s:
        s.execute(update(DraftVersion).where(DraftVersion.id == draft.current_version_id)
                  .values(body="篡改后的正文。"))
    with db.transaction() as s, pytest.raises(Conflict, match="不一致"):
        workflow.publish(s, editor, draft.id, "https://mp.weixin.qq.com/s/x", None)
    assert status(db, draft.id) == "approved"
    # And if only one step's approval names another hash, publishing is refused too.
    with db.transaction() as s:
        s.execute(update(DraftVersion).where(DraftVersion.id == draft.current_version_id)
                  .values(body="这是一篇普通的通知。"))
        s.execute(update(Decision).where(Decision.draft_id == draft.id, Decision.step == 2)
                  .values(content_sha256="0" * 64))
    with db.transaction() as s, pytest.raises(Conflict, match="不一致"):
        workflow.publish(s, editor, draft.id, "https://mp.weixin.qq.com/s/x", None)


def test_role_step_within_the_channel_unit_and_outsiders_refused(app, make, db, rt):
    editor, head, outsider, leader, registrar = make.users(
        ("editor", "editor", "张编辑"), ("head", "leader", "科长孙"), ("outsider", "leader", "外单位李"),
        ("leader", "leader", "王领导"), ("registrar", "registrar", "周管理"))
    channel = make.channel(leader, "城南发布", unit="城南街道")
    with db.transaction() as s:
        s.execute(text("UPDATE \"user\" SET unit = '城南街道' WHERE id = :i"), {"i": head.id})
        s.execute(text("UPDATE \"user\" SET unit = '城北街道' WHERE id = :i"), {"i": outsider.id})
        chains.set_chain(s, registrar, channel, [chains.Step(1, "复审", "role", role="leader"),
                                                 chains.Step(2, "终审", "leader")])
    draft, version = make.submit(editor, channel)
    make.scanned(rt, version.id)
    with db.transaction() as s:
        outsider = s.get(type(outsider), outsider.id)
        head = s.get(type(head), head.id)
    with pytest.raises(Forbidden):
        decide(db, outsider, draft.id)
    assert WebUser.signed_in(app, outsider).get(f"/drafts/{draft.id}").status_code == 403
    decide(db, head, draft.id)
    decide(db, leader, draft.id)
    assert status(db, draft.id) == "approved"


def test_registrar_edits_a_chain_on_its_page_and_bad_input_saves_nothing(app, make, db):
    editor, first, leader, registrar = make.users(
        ("editor", "editor"), ("first", "editor", "初审赵"), ("leader", "leader", "王领导"), ("registrar", "registrar"))
    channel = make.channel(leader, "城南发布")
    web = WebUser.signed_in(app, registrar)
    page = web.get(f"/admin/channels/{channel.id}/chain").get_data(as_text=True)
    assert "终审" in page and "（默认）" in page and 'id="in-review-warning"' not in page
    # With drafts in review, the registrar is told before changing the chain under them.
    for title in ("一", "二"):
        _, version = make.submit(editor, channel, title=title)
        make.scanned(app.extensions["imprimatur"], version.id)
    page = web.get(f"/admin/channels/{channel.id}/chain").get_data(as_text=True)
    assert "该渠道有 2 篇稿件正在审核" in page

    def count():
        with db.transaction() as s:
            return s.execute(select(func.count()).select_from(ChainStep)).scalar_one()

    response = web.post(f"/admin/channels/{channel.id}/chain",
                        {"action": "save", "name1": "初审", "kind1": "user", "user1": "", "name2": "终审", "kind2": "leader"})
    assert response.status_code == 422 and "第1步请选择一位在用的审核人" in response.get_data(as_text=True)
    assert count() == 0
    response = web.post(f"/admin/channels/{channel.id}/chain",
                        {"action": "save", "name1": "初审", "kind1": "user", "user1": str(first.id),
                         "name2": "终审", "kind2": "leader"})
    assert response.status_code == 302 and count() == 2
    page = web.get(f"/admin/channels/{channel.id}/chain").get_data(as_text=True)
    assert "初审</strong> <span class=\"muted\">初审赵" in page
    assert WebUser.signed_in(app, leader).get(f"/admin/channels/{channel.id}/chain").status_code == 403
    response = web.post(f"/admin/channels/{channel.id}/chain", {"action": "default"})
    assert response.status_code == 302 and count() == 0
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(AuditEvent)
                         .where(AuditEvent.action == "chain.updated")).scalar_one() == 2
