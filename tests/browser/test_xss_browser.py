"""Stored XSS, in a real browser: every payload below is submitted through
the real forms (with the browser's own session and CSRF token) as a channel
name, a draft title and a plain-text body, scanned by the real worker, then
shown on every page that lists or displays it. The pages must show each
payload as text, and no script may run: alert/confirm/prompt/print are
hooked, dialogs are caught, CSP violations and console errors are recorded,
and an <img src=/xss…> that became markup would show up as a request.
"""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import csrf_token, shot

PAYLOADS = [
    # script tags
    "<script>alert('xss-1')</script>",
    "<SCRIPT SRC=/xss-1.js></SCRIPT>",
    "<script>confirm('xss-2')</script>",
    "<script/src=/xss-2.js></script>",
    "<scr<script>ipt>alert('xss-3')</scr</script>ipt>",
    "</script><script>alert('xss-4')</script>",
    "<ScRiPt>prompt('xss-5')</sCrIpT>",
    "<script type=module>alert('xss-6')</script>",
    # event handlers
    "<img src=/xss-img-1 onerror=alert('xss-7')>",
    "<IMG SRC=/xss-img-2 OnErRoR=alert('xss-8')>",
    "<body onload=alert('xss-9')>",
    "<div onmouseover=\"alert('xss-10')\">悬停</div>",
    "<input autofocus onfocus=alert('xss-11')>",
    "<details open ontoggle=alert('xss-12')>",
    "<video><source onerror=alert('xss-13')></video>",
    "<audio src=/xss-audio onerror=alert('xss-14')>",
    "<marquee onstart=alert('xss-15')>跑马灯</marquee>",
    "<select autofocus onfocus=alert('xss-16')>",
    "\" autofocus onfocus=\"alert('xss-17')",
    "' onmouseover='alert(`xss-18`)",
    # javascript: and data: URLs
    "<a href=\"javascript:alert('xss-19')\">点我</a>",
    "<a href=\"jav&#x09;ascript:alert('xss-20')\">点我</a>",
    "<a href=\" javascript:alert('xss-21')\">点我</a>",
    "javascript:alert('xss-22')",
    "<iframe src=\"javascript:alert('xss-23')\"></iframe>",
    "<iframe srcdoc=\"<script>alert('xss-24')</script>\"></iframe>",
    "<object data=\"data:text/html,<script>alert('xss-25')</script>\"></object>",
    "<form action=\"javascript:alert('xss-26')\"><button>提交</button></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert('xss-27')\">",
    # SVG and MathML
    "<svg onload=alert('xss-28')>",
    "<svg><script>alert('xss-29')</script></svg>",
    "<svg><animate onbegin=alert('xss-30') attributeName=x dur=1s>",
    "<svg><a xlink:href=\"javascript:alert('xss-31')\"><text x=20 y=20>点</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=/xss-img-3 onerror=alert('xss-32')>",
    # encoded
    "&lt;script&gt;alert('xss-33')&lt;/script&gt;",
    "&#60;img src=/xss-img-4 onerror=alert('xss-34')&#62;",
    "%3Cscript%3Ealert('xss-35')%3C/script%3E",
    "\\u003cscript\\u003ealert('xss-36')\\u003c/script\\u003e",
    "<img src=/xss-img-5 onerror=&#97;&#108;&#101;&#114;&#116;(36)>",
    "＜script＞alert('xss-38')＜/script＞",
    # broken and context-breaking markup
    "<img src=\"/xss-img-6\" onerror=\"alert('xss-39')\"",
    "\"><script>alert('xss-40')</script>",
    "'><svg/onload=alert('xss-41')>",
    "</textarea><script>alert('xss-42')</script>",
    "</title><img src=/xss-img-7 onerror=alert('xss-43')>",
    "<!--<img src=\"--><img src=/xss-img-8 onerror=alert('xss-44')>",
    "<style>@import '/xss-css';</style><link rel=stylesheet href=/xss-css2>",
    "<base href=\"/xss-base/\"><a href=x>链接</a>",
    "{{7*7}}${7*7}<%= 7*7 %>",
    "<noscript><p title=\"</noscript><img src=/xss-img-9 onerror=alert('xss-48')>\">",
]

# Tags and attributes no page of the app uses and every payload tries to smuggle in.
DOM_CHECK = """() => {
  const bad = [];
  for (const s of document.scripts) if (!s.src.endsWith('/static/app.js')) bad.push('script ' + s.outerHTML.slice(0, 80));
  for (const el of document.querySelectorAll('img,svg,iframe,object,embed,math,video,audio,base,meta[http-equiv],marquee,details,noscript,style,link:not([rel=stylesheet]):not([rel=icon])'))
    bad.push('tag ' + el.outerHTML.slice(0, 80));
  for (const el of document.querySelectorAll('link[rel=stylesheet]'))
    if (!el.href.includes('/static/style.css')) bad.push('stylesheet ' + el.href);
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (a.name.startsWith('on')) bad.push('handler ' + el.tagName + ' ' + a.name);
      if (['href', 'src', 'action', 'formaction', 'srcdoc', 'data'].includes(a.name) &&
          /^\\s*(javascript|data|vbscript):/i.test(a.value)) bad.push('url ' + el.tagName + ' ' + a.value);
    }
  }
  return bad;
}"""


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def attacked(sessions, live_server):
    """Every payload submitted through the forms: a channel named with it, and
    a draft in that channel titled and written with it. Returns draft ids."""
    make = live_server.make
    make.users(("xeditor", "editor", "攻击测试编辑"), ("xleader", "leader", "攻击测试领导"),
               ("xauditor", "auditor", "攻击测试督查"), ("xadmin", "registrar", "攻击测试管理员"))
    admin, _ = sessions.page("xadmin")
    admin.goto("/admin/channels/new")
    token = csrf_token(admin)
    leader_id = admin.locator("select[name=leader_id] option", has_text="攻击测试领导").get_attribute("value")
    for i, payload in enumerate(PAYLOADS):
        response = admin.request.post("/admin/channels/new", form={
            "csrf_token": token, "name": payload, "platform": "wechat_official", "category": "government",
            "leader_id": leader_id, "filing_status": "filed", "filing_number": f"X{i}", "filing_authority": "网信办",
            "urgent_deadline_minutes": "30"}, max_redirects=0)
        assert response.status == 302, (payload, response.status, response.text()[:500])
    editor, _ = sessions.page("xeditor")
    editor.goto("/drafts/new")
    token = csrf_token(editor)
    from sqlalchemy import select

    from review.models import Channel
    with live_server.db.transaction() as s:
        channel_ids = dict(s.execute(select(Channel.name, Channel.id)).all())
    drafts = []
    for i, payload in enumerate(PAYLOADS):
        channel_id = channel_ids[payload.strip()]
        response = editor.request.post("/drafts/new", form={
            "csrf_token": token, "channel_id": channel_id, "title": f"{payload} 刷单",
            "body": f"第{i}条：{payload}\n请勿参与刷单。", "body_format": "text", "action": "submit"},
            max_redirects=0)
        assert response.status == 302, (payload, response.status, response.text()[:500])
        drafts.append(int(response.headers["location"].rsplit("/", 1)[1]))
    return drafts


def visit(page, watch, path: str, name: str | None = None) -> None:
    page.goto(path)
    problems = page.evaluate(DOM_CHECK) + watch.check(page)
    if name:
        shot(page, name)
    assert problems == [], f"{path}: {problems}"


def test_payloads_are_shown_as_text_and_run_nothing(sessions, attacked):
    editor, watch_e = sessions.page("xeditor")
    for draft_id, payload in zip(attacked, PAYLOADS):
        editor.goto(f"/drafts/{draft_id}")
        editor.wait_for_selector("#doc-body mark.sev-high")  # scanned: the highlighting ran over the payload
        problems = editor.evaluate(DOM_CHECK) + watch_e.check(editor)
        assert problems == [], f"draft {draft_id}: {problems}"
        title = normalise(editor.inner_text(".doc-title"))
        assert title == normalise(f"{payload} 刷单"), title
        assert normalise(payload) in normalise(editor.inner_text("#doc-body"))
        assert normalise(payload)[:40] in normalise(editor.inner_text("dl.meta"))  # the channel's name
    shot(editor, "xss-draft-page")

    leader, watch_l = sessions.page("xleader")
    auditor, watch_a = sessions.page("xauditor")
    admin, watch_r = sessions.page("xadmin")
    for page, watch, path, name in (
            (editor, watch_e, "/drafts", "xss-editor-list"), (editor, watch_e, "/drafts/new", "xss-editor-form"),
            (leader, watch_l, f"/drafts/{attacked[0]}", None), (auditor, watch_a, "/drafts/all", "xss-auditor-all"),
            (auditor, watch_a, "/audit", "xss-audit"), (admin, watch_r, "/audit", None),
            (admin, watch_r, "/admin/channels", "xss-admin-channels"), (leader, watch_l, "/review", "xss-leader-queue")):
        visit(page, watch, path, name)
    # The lists show every payload as text: the leader's queue (last visited) and the channel register.
    listed = normalise(leader.inner_text("main"))
    assert all(normalise(p) in listed for p in PAYLOADS)
    admin.goto("/admin/channels")
    listed = normalise(admin.inner_text("main"))
    assert all(normalise(p)[:40] in listed for p in PAYLOADS)
    assert len(PAYLOADS) >= 40


def test_pending_pages_poll_and_swap_in_payloads_safely(sessions, live_server, attacked):
    """While a scan is pending, static/app.js fetches the panel and swaps it in
    with innerHTML: the payloads in the fetched fragment must stay text too.
    (`attacked` makes the x-users: on its own xdist worker this test needs it too.)"""
    editor, watch = sessions.page("xeditor")
    editor.goto("/drafts/new")
    token = csrf_token(editor)
    channel_id = editor.locator("select[name=channel_id] option").nth(1).get_attribute("value")
    payloads = [p for p in PAYLOADS if "onerror" in p or "<script" in p.lower()][:6]
    with live_server.worker_paused():
        drafts = []
        for payload in payloads:
            response = editor.request.post("/drafts/new", form={
                "csrf_token": token, "channel_id": channel_id, "title": payload, "body": f"{payload}\n刷单",
                "action": "submit"}, max_redirects=0)
            drafts.append(response.headers["location"].rsplit("/", 1)[1])
        pages = []
        for draft_id in drafts:
            page = editor.context.new_page()
            page.goto(f"/drafts/{draft_id}")
            assert page.locator("#draft-main[data-poll-url]").count() == 1
            pages.append(page)
    for page, payload in zip(pages, payloads):
        page.wait_for_selector("#doc-body mark.sev-high", timeout=20_000)  # swapped in by app.js
        assert page.evaluate(DOM_CHECK) + watch.check(page) == []
        assert normalise(payload) in normalise(page.inner_text("#doc-body"))
        page.close()
