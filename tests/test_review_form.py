"""The printable review form (信息发布审核表)."""
from __future__ import annotations

from pathlib import Path

from review import chains, workflow
from tests.factories import WebUser

ROOT = Path(__file__).resolve().parent.parent


def test_review_form_shows_every_step_flags_hash_and_publication(app, rt, make, db):
    editor, first, leader, registrar = make.users(
        ("editor", "editor", "张编辑"), ("first", "editor", "初审赵"), ("leader", "leader", "王领导"),
        ("registrar", "registrar", "周管理"))
    channel = make.channel(leader, "城南发布")
    other, = make.users(("other", "editor", "李编辑"))
    with db.transaction() as s:
        chains.set_chain(s, registrar, channel, [chains.Step(1, "初审", "user", first.id), chains.Step(2, "终审", "leader")])
    draft, version = make.submit(editor, channel, title="反诈提示", body="警惕网络赌场和刷单返利。")
    make.scanned(rt, version.id)
    with db.transaction() as s:
        flags = workflow.must_acknowledge(s, version.id)
        ids = [f.id for f in flags]
        workflow.decide(s, first, draft.id, "approve", "文字无误", version=1, acknowledged=ids)
    with db.transaction() as s:
        workflow.decide(s, leader, draft.id, "approve", "同意发布", version=1, acknowledged=ids)
    with db.transaction() as s:
        workflow.publish(s, editor, draft.id, "https://mp.weixin.qq.com/s/fz", None)
    page = WebUser.signed_in(app, leader).get(f"/drafts/{draft.id}/form").get_data(as_text=True)
    assert "信息发布审核表" in page
    for expected in ("城南发布", "反诈提示", "张编辑", "初审", "初审赵", "文字无误", "终审", "王领导", "同意发布",
                     version.content_sha256, "https://mp.weixin.qq.com/s/fz", "与审核通过版本一致"):
        assert expected in page, expected
    assert flags and "已确认斟酌（初审：初审赵；终审：王领导）" in page
    # Reachable from the draft page; not for people who may not see the draft.
    assert f"/drafts/{draft.id}/form" in WebUser.signed_in(app, editor).get(f"/drafts/{draft.id}").get_data(as_text=True)
    assert WebUser.signed_in(app, other).get(f"/drafts/{draft.id}/form").status_code == 403
    css = (ROOT / "static" / "style.css").read_text()
    assert "@page { size: A4 portrait" in css and ".no-print" in css
