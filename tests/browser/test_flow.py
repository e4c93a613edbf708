"""The whole review in a real browser, as its people do it: the editor's
flags appear without a reload, the leader sees the same highlights, rejects,
the editor revises, the leader approves after ticking each high-risk flag,
the editor publishes and the auditor finds all of it in the audit trail.
Screenshots of every page land in test-output/browser/."""
from __future__ import annotations

import pytest

from review.models.drafts import STATUS_LABELS
from tests.browser.conftest import shot

FIRST = "本店招聘刷单兼职，日结。另售最低价商品。"
REVISED = "本店暑期促销。提醒：网络赌博害人，切勿参与刷单。"


@pytest.fixture(scope="module")
def team(live_server):
    make = live_server.make
    editor, leader, auditor, admin = make.users(("editor", "editor", "张编辑"), ("leader", "leader", "王领导"),
                                                ("auditor", "auditor", "陈督查"), ("admin", "registrar", "周管理"))
    channel = make.channel(leader, "城南发布")
    return {"channel": channel}


def marks(page) -> list[tuple[str, str]]:
    found = page.eval_on_selector_all("#doc-body mark", "els => els.map(e => [e.className, e.textContent])")
    return [tuple(m) for m in found]


def test_review_flow_end_to_end(sessions, team, live_server):
    channel = team["channel"]
    editor, watch_e = sessions.page("editor")
    editor.goto("/drafts/new")
    shot(editor, "01-editor-new-draft")
    editor.select_option("select[name=channel_id]", str(channel.id))
    editor.fill("input[name=title]", "暑期促销通知")
    editor.fill("textarea[name=body]", FIRST)
    with live_server.worker_paused():  # the page must first be seen without flags
        with editor.expect_navigation():
            editor.click("button[name=action][value=submit]")
        assert "/drafts/" in editor.url
        draft_path = "/" + editor.url.split("/", 3)[3]
        assert editor.locator("#draft-main[data-poll-url]").count() == 1 and marks(editor) == []
        assert "正在排队检测" in editor.inner_text(".scan-state")
        shot(editor, "02-editor-submitted-scanning")
        # No reload: a marker set on this document survives only if it is the same document.
        navigations = []
        editor.on("framenavigated", lambda f: f == editor.main_frame and navigations.append(f.url))
        editor.evaluate("window.__sameDocument = 'yes'")
    editor.wait_for_selector("#doc-body mark.sev-high", timeout=20_000)
    assert editor.evaluate("window.__sameDocument") == "yes" and navigations == []
    assert ("sev-high", "刷单") in marks(editor) and ("sev-medium", "最低价") in marks(editor)
    assert editor.locator("#draft-status").inner_text() == STATUS_LABELS["in_review"]
    assert editor.locator("#draft-main").get_attribute("data-poll-url") is None  # polling stopped
    shot(editor, "03-editor-flags-appeared")

    leader, watch_l = sessions.page("leader")
    leader.goto("/review")
    shot(leader, "04-leader-queue")
    with leader.expect_navigation():
        leader.click("text=暑期促销通知")
    assert marks(leader) == marks(editor)
    shot(leader, "05-leader-review-page")
    leader.fill("textarea[name=comment]", "请删去招聘刷单的内容")
    with leader.expect_navigation():
        leader.click("button[value=reject]")
    shot(leader, "06-leader-rejected")
    assert "已退回编辑" in leader.inner_text("main")
    leader.goto(draft_path)
    assert leader.locator("#draft-status").inner_text() == STATUS_LABELS["rejected"]

    editor.goto(draft_path)
    assert "请删去招聘刷单的内容" in editor.inner_text(".history")
    with editor.expect_navigation():
        editor.click("text=修改并重新提交")
    shot(editor, "07-editor-revise-form")
    editor.fill("textarea[name=body]", REVISED)
    with editor.expect_navigation():
        editor.click("button[name=action][value=submit]")
    editor.wait_for_selector("#doc-body mark.sev-high", timeout=20_000)
    assert ("sev-high", "刷单") in marks(editor) and ("sev-high", "赌博") in marks(editor)
    shot(editor, "08-editor-revision-scanned")

    leader.goto("/review")
    with leader.expect_navigation():
        leader.click("text=暑期促销通知")
    assert "与第1版的差异" in leader.inner_text("#draft-main")
    # Approving without ticking the high-risk boxes is refused and names the terms.
    with leader.expect_navigation():
        leader.click("button[value=approve]")
    assert "有高风险标记未确认已斟酌" in leader.inner_text("main")
    boxes = leader.locator("input[name=ack]")
    assert boxes.count() >= 2
    for i in range(boxes.count()):
        boxes.nth(i).check()
    shot(leader, "09-leader-ticked-high-risk")
    with leader.expect_navigation():
        leader.click("button[value=approve]")
    shot(leader, "10-leader-approved")
    assert "审核通过" in leader.inner_text("main")
    leader.goto(draft_path)
    assert leader.locator("#draft-status").inner_text() == STATUS_LABELS["approved"]

    editor.goto(draft_path)
    editor.fill("input[name=url]", "https://mp.weixin.qq.com/s/summer")
    with editor.expect_navigation():
        editor.click("text=确认已发布")
    assert editor.locator("#draft-status").inner_text() == STATUS_LABELS["published"]
    record = editor.inner_text("#record")
    assert "张编辑" in record and "王领导" in record and "https://mp.weixin.qq.com/s/summer" in record
    shot(editor, "11-editor-published-record")

    auditor, watch_a = sessions.page("auditor")
    draft_id = draft_path.rsplit("/", 1)[1]
    auditor.goto(f"/audit?draft={draft_id}")
    shot(auditor, "12-auditor-audit-trail")
    actions = auditor.eval_on_selector_all("td[data-label=操作]", "els => els.map(e => e.textContent)")[::-1]
    assert actions == ["提交审核", "检测完成", "审核退回", "修改后重新提交", "检测完成", "审核通过", "登记发布"]
    people = auditor.inner_text("table.list")
    assert "张编辑" in people and "王领导" in people and "请删去招聘刷单的内容" in people
    auditor.goto("/audit")
    shot(auditor, "13-auditor-audit-all")
    for page, watch in ((editor, watch_e), (leader, watch_l), (auditor, watch_a)):
        assert watch.check(page) == []


PHONE_PAGES = [("editor", "/drafts"), ("editor", "/drafts/new"), ("leader", "/review"), ("auditor", "/drafts/all"),
               ("auditor", "/audit"), ("admin", "/admin/channels"), ("admin", "/admin/users")]


def test_pages_fit_a_phone(sessions, team, live_server):
    make = live_server.make
    with live_server.db.transaction() as s:
        from review.models import User
        from sqlmodel import select
        editor = s.exec(select(User).where(User.username == "editor")).one()
    draft, version = make.submit(editor, team["channel"], title="手机上看的一篇稿件",
                                 body="请勿参与刷单。" * 40)
    live_server.enqueue_scan(version.id)
    pages = [*PHONE_PAGES, ("editor", f"/drafts/{draft.id}"), ("leader", f"/drafts/{draft.id}")]
    for username, path in pages:
        page, watch = sessions.page(username, phone=True)
        page.goto(path)
        if path.startswith("/drafts/") and path[8:].isdigit():
            page.wait_for_selector("#doc-body mark.sev-high", timeout=20_000)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        shot(page, f"phone-{username}-{path.strip('/').replace('/', '-') or 'home'}")
        assert overflow <= 0, f"{path} is {overflow}px wider than a phone screen"
        assert watch.check(page) == []


def drafts_titled(live_server, title: str) -> int:
    from sqlalchemy import func, select

    from review.models import Draft
    with live_server.db.transaction() as s:
        return s.execute(select(func.count()).select_from(Draft).where(Draft.title == title)).scalar_one()


def new_draft(page, channel_id: int, title: str, body: str) -> None:
    """The new-draft form, filled in (not sent)."""
    page.goto("/drafts/new")
    page.select_option("select[name=channel_id]", str(channel_id))
    page.fill("input[name=title]", title)
    page.fill("textarea[name=body]", body)


def test_a_second_press_of_submit_sends_the_draft_once(sessions, team, live_server):
    editor, _ = sessions.page("editor")
    new_draft(editor, team["channel"].id, "双击提交的通知", "社区今晚停水，请提前储水。")
    # The answer goes to a frame, so this page stays put and can be pressed again after the
    # first submission has reached the server: as a slow double click or a second press does.
    editor.evaluate("""() => {
        const sink = document.createElement('iframe');
        sink.name = 'sink';
        document.body.appendChild(sink);
        document.querySelector('form.draft-form').target = 'sink';
    }""")
    button = "button[name=action][value=submit]"
    editor.click(button)
    editor.wait_for_timeout(500)
    editor.click(button)
    editor.wait_for_load_state("networkidle")
    editor.wait_for_timeout(500)
    assert drafts_titled(live_server, "双击提交的通知") == 1  # (the frame itself shows nothing: frame-ancestors 'none')


# x of each character of the text node after the element (reading order: left to right).
CHARACTER_XS = """el => { const text = el.nextSibling; const xs = [];
  for (let i = 0; i < text.length; i++) {
    const r = document.createRange(); r.setStart(text, i); r.setEnd(text, i + 1);
    xs.push(r.getBoundingClientRect().x);
  }
  return xs; }"""


def test_a_hidden_direction_control_shows_as_a_sign_and_reverses_nothing(sessions, team, live_server):
    editor, _ = sessions.page("editor")
    # U+202E would show what follows it right to left: 社区今晚停水 as 水停晚今区社.
    new_draft(editor, team["channel"].id, "方向控制符测试", "通知：\u202e社区今晚停水")
    with editor.expect_navigation():
        editor.click("button[name=action][value=submit]")
    mark = editor.wait_for_selector("#doc-body mark.hidden-char", timeout=20_000)
    assert mark.get_attribute("title") == "隐藏控制字符：U+202E"
    sign = editor.evaluate("el => getComputedStyle(el, '::before').content", mark)
    assert "隐藏控制字符" in sign
    xs = mark.evaluate(CHARACTER_XS)
    assert len(xs) == 6 and xs == sorted(xs)  # 社区今晚停水, left to right
    shot(editor, "12-direction-control-shown")
