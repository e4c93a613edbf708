"""Decisions are bound to one version and happen exactly once."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from review import workflow
from review.models import AuditEvent, Decision, Draft


def _in_review(make, run_worker, rt, editor, channel, body="一篇普通的通知。"):
    from workers.queue import enqueue_scan

    draft, version = make.submit(editor, channel, body=body)
    enqueue_scan(rt, version.id)
    run_worker()
    return draft


def _count(db, model, *where):
    with db.transaction() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_leaders_clicking_at_once_make_exactly_one_decision(app, make, login, run_worker, rt, db):
    editor, leader, channel, *_ = make.team()
    draft = _in_review(make, run_worker, rt, editor, channel)
    sessions = [login("leader") for _ in range(8)]
    barrier = threading.Barrier(len(sessions))
    codes = []

    def click(session, decision):
        barrier.wait()
        response = session.post(f"/drafts/{draft.id}/decision",
                                {"decision": decision, "version": 1, "comment": "意见"})
        codes.append(response.status_code)

    threads = [threading.Thread(target=click, args=(s, "approve" if i % 2 else "reject"))
               for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [302] + [409] * 7
    assert _count(db, Decision, Decision.draft_id == draft.id) == 1
    decided = _count(db, AuditEvent, AuditEvent.action.in_(("draft.approved", "draft.rejected")))
    assert decided == 1
    with db.transaction() as s:
        assert s.get(Draft, draft.id).status in ("approved", "rejected")


def test_decision_on_a_stale_version_is_refused(app, make, login, run_worker, rt, db):
    editor, leader, channel, *_ = make.team()
    draft = _in_review(make, run_worker, rt, editor, channel)
    leader_page = login("leader")
    assert 'name="version" value="1"' in leader_page.get(f"/drafts/{draft.id}").get_data(as_text=True)
    # Meanwhile the editor changes the text: version 2.
    with db.transaction() as s:
        workflow.submit(s, editor, channel.id, "通知", "改过的正文。", draft_id=draft.id)
    from workers.queue import enqueue_scan

    with db.transaction() as s:
        enqueue_scan(rt, s.get(Draft, draft.id).current_version_id)
    run_worker()
    response = leader_page.post(f"/drafts/{draft.id}/decision", {"decision": "approve", "version": 1})
    assert response.status_code == 409
    assert "第2版" in response.get_data(as_text=True)
    assert _count(db, Decision) == 0
    with db.transaction() as s:
        assert s.get(Draft, draft.id).status == "in_review"


def test_nobody_approves_their_own_draft(app, make, login, run_worker, rt, db):
    both = make.user("both", "editor", "leader", display_name="兼任者")
    channel = make.channel(both, "自管渠道")
    draft = _in_review(make, run_worker, rt, both, channel)
    me = login("both")
    assert "自管渠道" not in me.get("/review").get_data(as_text=True)
    response = me.post(f"/drafts/{draft.id}/decision", {"decision": "approve", "version": 1})
    assert response.status_code == 403
    assert "不能审核自己撰写的稿件" in response.get_data(as_text=True)
    assert _count(db, Decision) == 0


def test_approval_is_bound_to_the_version_hash_and_editing_voids_it(app, make, login, run_worker, rt, db):
    editor, leader, channel, *_ = make.team()
    draft = _in_review(make, run_worker, rt, editor, channel)
    with db.transaction() as s:
        decision = workflow.decide(s, leader, draft.id, "approve", version=1)
        version = workflow.current_version(s, s.get(Draft, draft.id))
        assert decision.content_sha256 == version.content_sha256 == workflow.content_sha256(
            version.title, version.body_format, version.body)
    # Changing the approved text makes version 2 and the draft must be reviewed again.
    with db.transaction() as s:
        _, v2, created = workflow.submit(s, editor, channel.id, "通知", "批准后又改了。", draft_id=draft.id)
    assert created and v2.number == 2
    with db.transaction() as s:
        assert s.get(Draft, draft.id).status == "queued"
    editor_web = login("editor")
    run_worker()
    response = editor_web.post(f"/drafts/{draft.id}/publish", {"url": "https://example.org/a"})
    assert response.status_code == 409  # in review again, not approved
