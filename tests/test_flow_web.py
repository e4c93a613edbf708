"""The whole flow through the web pages, with CSRF on: submit, scan by a real
worker, reject, revise, approve, publish, and the record."""
from __future__ import annotations

import re

from sqlalchemy import select

from review import audit
from review.models import Decision, Draft, Publication
from tests.factories import WebUser

FRAUD = "警惕刷单诈骗：凡是刷单都是诈骗，请勿相信“网络赌场”的广告。"


def _draft_id(response) -> int:
    return int(re.search(r"/drafts/(\d+)", response.headers["Location"]).group(1))


def test_editor_to_leader_to_publication(app, make, login, run_worker, db):
    make.team()
    editor, leader = login("editor"), login("leader")
    channel_id = 1

    response = editor.post("/drafts/new", {"channel_id": channel_id, "title": "防诈骗提示", "body": FRAUD,
                                           "body_format": "text", "action": "submit"})
    assert response.status_code == 302
    draft_id = _draft_id(response)

    # Before the worker: the page says the scan is pending and polls.
    page = editor.get(f"/drafts/{draft_id}").get_data(as_text=True)
    assert "排队检测" in page and "data-poll-url" in page

    run_worker()

    # The polled fragment now carries the highlighted flags and stops polling.
    panel = editor.get(f"/drafts/{draft_id}/panel").get_data(as_text=True)
    assert "data-poll-url" not in panel
    assert '<mark class="sev-high"' in panel and ">刷单</mark>" in panel
    assert "待审核" in panel

    # The leader's queue lists it; the review page shows the same highlights.
    queue = leader.get("/review").get_data(as_text=True)
    assert "防诈骗提示" in queue
    review = leader.get(f"/drafts/{draft_id}").get_data(as_text=True)
    assert ">刷单</mark>" in review and 'name="decision"' in review

    # Rejecting needs a comment; without one nothing is recorded.
    response = leader.post(f"/drafts/{draft_id}/decision", {"decision": "reject", "version": 1, "comment": ""})
    assert response.status_code == 422 and "必须填写审核意见" in response.get_data(as_text=True)
    response = leader.post(f"/drafts/{draft_id}/decision",
                           {"decision": "reject", "version": 1, "comment": "请删去赌场字样"})
    assert response.status_code == 302

    # The editor revises; a new version is scanned and the leader sees the difference.
    edit = editor.get(f"/drafts/{draft_id}/edit").get_data(as_text=True)
    assert "已被退回" in edit
    revised = FRAUD.replace("，请勿相信“网络赌场”的广告", "")
    response = editor.post(f"/drafts/{draft_id}/edit", {"channel_id": channel_id, "title": "防诈骗提示",
                                                         "body": revised, "action": "submit"})
    assert response.status_code == 302
    run_worker()
    review = leader.get(f"/drafts/{draft_id}").get_data(as_text=True)
    assert "与第1版的差异" in review and "<del>" in review

    # Approving with high-severity flags needs every box ticked (one per flagged term).
    boxes = re.findall(r'name="ack" value="([\d,]+)"', review)
    assert boxes
    response = leader.post(f"/drafts/{draft_id}/decision", {"decision": "approve", "version": 2})
    assert response.status_code == 422 and "未确认已斟酌" in response.get_data(as_text=True)
    response = leader.client.post(f"/drafts/{draft_id}/decision", data={
        "decision": "approve", "version": 2, "ack": boxes[1:], "csrf_token": leader.csrf})
    assert response.status_code == 422  # one box left unticked
    response = leader.client.post(f"/drafts/{draft_id}/decision", data={
        "decision": "approve", "version": 2, "ack": boxes, "csrf_token": leader.csrf})
    assert response.status_code == 302

    # The editor records the publication; the page shows the responsibility record.
    response = editor.post(f"/drafts/{draft_id}/publish", {"url": "https://mp.weixin.qq.com/s/abc",
                                                           "published_at": "2026-11-27 09:30"})
    assert response.status_code == 302
    page = editor.get(f"/drafts/{draft_id}").get_data(as_text=True)
    with db.transaction() as s:
        approval = s.execute(select(Decision).where(Decision.draft_id == draft_id,
                                                    Decision.decision == "approve")).scalars().one()
        publication = s.execute(select(Publication)).scalars().one()
        assert approval.version_number == 2
        assert publication.content_sha256 == approval.content_sha256
        assert s.get(Draft, draft_id).status == "published"
        assert audit.verify(s).ok
    assert "责任记录" in page and "张编辑" in page and "王领导" in page
    assert approval.content_sha256 in page and "https://mp.weixin.qq.com/s/abc" in page
    assert "2026-11-27 09:30" in page


def test_save_draft_then_submit_keeps_text(app, make, login):
    make.team()
    editor = login("editor")
    response = editor.post("/drafts/new", {"channel_id": 1, "title": "未完成", "body": "先存一下",
                                           "action": "save"})
    assert response.status_code == 302
    page = editor.get(response.headers["Location"]).get_data(as_text=True)
    assert "先存一下" in page and "保存草稿" in page


def test_invalid_form_keeps_what_was_typed(app, make, login, db):
    make.team()
    editor = login("editor")
    response = editor.post("/drafts/new", {"channel_id": 1, "title": "", "body": "辛苦写的正文",
                                           "action": "submit"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "标题不能为空" in html and "辛苦写的正文" in html
    with db.transaction() as s:
        assert s.execute(select(Draft)).first() is None


def test_my_drafts_come_in_pages_of_fifty(app, make, login):
    editor, leader, channel, *_ = make.team()
    for i in range(55):
        make.submit(editor, channel, title=f"第{i:02d}号通知", body=f"正文{i}")
    web = login("editor")
    first = web.get("/drafts").get_data(as_text=True)
    assert first.count('href="/drafts/') - first.count('href="/drafts/new') == 50
    assert "第54号通知" in first and "第04号通知" not in first and "下一页" in first
    second = web.get("/drafts?page=2").get_data(as_text=True)
    assert "第04号通知" in second and "第54号通知" not in second
    assert "上一页" in second and "下一页" not in second


def test_an_empty_filter_says_so_rather_than_that_there_are_no_drafts(app, make):
    leader, editor = make.users(("lead", "leader", "王领导"), ("ed", "editor", "张编辑"))
    make.submit(editor, make.channel(leader, "城南发布"))
    web = WebUser.signed_in(app, editor)
    assert "没有“已发布”的稿件。" in web.get("/drafts?status=published").get_data(as_text=True)
    assert "写新稿”开始" not in web.get("/drafts?status=published").get_data(as_text=True)
    home = web.get("/").get_data(as_text=True)
    assert home.count("还没有稿件") == 0  # it has one
    newcomer = WebUser.signed_in(app, make.user("ed2", "editor")).get("/").get_data(as_text=True)
    assert newcomer.count("还没有稿件") == 1  # said once, not under the counts and again under the list


def test_the_edit_address_of_a_withdrawn_draft_says_why_it_cannot_change(app, make, db):
    from review import workflow

    leader, editor, other = make.users(("lead", "leader", "王领导"), ("ed", "editor", "张编辑"),
                                       ("ed2", "editor", "李编辑"))
    draft, _ = make.submit(editor, make.channel(leader, "城南发布"))
    with db.transaction() as s:
        workflow.withdraw(s, editor, draft.id)
    response = WebUser.signed_in(app, editor).get(f"/drafts/{draft.id}/edit", follow_redirects=True)
    assert response.status_code == 200 and "稿件已撤回，不能再修改" in response.get_data(as_text=True)
    assert WebUser.signed_in(app, other).get(f"/drafts/{draft.id}/edit").status_code == 403  # not theirs


def test_the_new_draft_form_sent_again_after_back_makes_no_second_draft(app, make, db):
    from sqlalchemy import func

    from review.models import DraftVersion

    leader, editor = make.users(("lead", "leader", "王领导"), ("ed", "editor", "张编辑"))
    channel = make.channel(leader, "城南发布")
    web = WebUser.signed_in(app, editor)
    key = re.search(r'name="form_key" value="([0-9a-f]{32})"', web.get("/drafts/new").get_data(as_text=True)).group(1)
    fields = {"channel_id": channel.id, "title": "停水通知", "body": "周六停水。", "body_format": "text",
              "action": "submit", "form_key": key}
    first = web.post("/drafts/new", fields)
    again = web.post("/drafts/new", fields)  # Back, then 提交审核 once more
    assert first.headers["Location"] == again.headers["Location"]
    assert "内容没有变化" in web.get(again.headers["Location"]).get_data(as_text=True)
    changed = web.post("/drafts/new", {**fields, "body": "周六上午停水。"})  # Back, corrected, sent again
    assert changed.headers["Location"] == first.headers["Location"]
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(Draft)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(DraftVersion)).scalar_one() == 2  # a revision
    # Another form (a new key) is another draft; so is another editor's form with the same key.
    other = re.search(r'name="form_key" value="([0-9a-f]{32})"', web.get("/drafts/new").get_data(as_text=True)).group(1)
    assert other != key
    web.post("/drafts/new", {**fields, "form_key": other})
    WebUser.signed_in(app, make.user("ed2", "editor")).post("/drafts/new", fields)
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(Draft)).scalar_one() == 3


def test_a_hidden_direction_control_is_flagged_and_shown_as_a_sign(app, make, login, run_worker, db):
    """U+202E shows what follows it reversed: the reviewer must see that it is there, and the page must
    not reverse the rest of the text."""
    make.team()
    editor = login("editor")
    response = editor.post("/drafts/new", {"channel_id": 1, "title": "通知\u202e知通", "body": "正文\u202e文正",
                                           "body_format": "text", "action": "submit"})
    draft_id = _draft_id(response)
    run_worker()
    panel = editor.get(f"/drafts/{draft_id}/panel").get_data(as_text=True)
    marks = re.findall(r'<mark class="sev-high hidden-char" title="([^"]*)">\u202e</mark>', panel)
    assert marks == ["隐藏控制字符：U+202E"] * 2  # the title's and the body's
    # and in the list of flags, by category, with the code point and where it is
    assert panel.count("隐藏控制字符") > 2 and "词条“U+202E” · 标题第3字" in panel
    # Where the title is shown as a heading or in a list, the control is a sign, not a control.
    for page in (editor.get(f"/drafts/{draft_id}"), editor.get("/drafts"), login("leader").get("/review")):
        html = page.get_data(as_text=True)
        assert "通知⟨隐藏控制字符⟩知通" in html
        assert "\u202e" not in html.replace('hidden-char" title="隐藏控制字符：U+202E">\u202e<', "")
