"""Script payloads typed by users never reach a page as live markup.

Each payload goes in as a draft title, as a plain-text body, as a pasted-HTML
body and as a channel name (through the registrar's form), then through a
real worker's scan (so the highlighting code runs over it), a rejection
comment, a revision (the diff) and a user's display name. Every page that
shows them must contain them only escaped: parsed as HTML, a page has no
script but the app's own /static/app.js, no on* attribute, no img/svg/iframe
and no javascript: URL, and the escaped text is there for the user to read.
Pasted HTML is stored sanitised. Every page carries a Content-Security-Policy
with script-src 'self' and no 'unsafe-inline'.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markupsafe import escape
from sqlalchemy import select

from review import workflow
from tests.factories import PASSWORD, Factories, WebUser
from review.models import Channel, Draft, DraftVersion

FLAGGED = "刷单"  # a high-severity term: the scan highlights text next to the payload

PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "img-onerror": "<img src=x onerror=alert(1)>",
    "svg-onload": "<svg onload=alert(1)>",
    "javascript-link": '<a href="javascript:alert(1)">点我</a>',
    "mixed-case": "<ScRiPt>alert(1)</sCrIpT><IMG SRC=x OnErRoR=alert(1)>",
    "attribute-breakout": '"><script>alert(1)</script><input value="',
    "single-quote-breakout": "'><svg/onload=alert(1)>",
    "textarea-breakout": "</textarea><script>alert(1)</script>",
    "title-breakout": "</title><img src=x onerror=alert(1)>",
    "unclosed-tag": '<img src="x" onerror="alert(1)"',
    "nested-broken": "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "entity-encoded": "&lt;script&gt;alert(1)&lt;/script&gt;&#60;img src=x onerror=alert(1)&#62;",
    "url-encoded": "%3Cscript%3Ealert(1)%3C%2Fscript%3E javascript:alert(1)",
}
# Broken markup that, read as HTML, swallows the text after it (an unclosed quote or tag):
# a draft pasted as HTML with it is refused rather than cut.
SWALLOWS_TEXT = {PAYLOADS[k] for k in ("attribute-breakout", "single-quote-breakout", "unclosed-tag")}

APP_SCRIPT = "/static/app.js"
# Tags none of the app's pages use and every payload here tries to smuggle in.
DANGEROUS_TAGS = {"img", "svg", "iframe", "object", "embed", "math", "base", "frame", "frameset"}


# ----------------------------------------------------------------- the HTML checks

class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: (v or "") for k, v in attrs}))

    handle_startendtag = handle_starttag


def live_markup(html: str) -> list[str]:
    """What in this HTML would run script in a browser, as a list of findings."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    found = []
    for tag, attrs in parser.tags:
        if tag == "script" and attrs.get("src") != APP_SCRIPT:
            found.append(f"<script {attrs}>")
        if tag in DANGEROUS_TAGS:
            found.append(f"<{tag} {attrs}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction") and re.sub(r"\s", "", value).lower().startswith(
                    ("javascript:", "data:text/html", "vbscript:")):
                found.append(f"<{tag} {name}={value}>")
    # The raw forms, for good measure (escaped, none of these strings can occur).
    lowered = html.lower()
    for raw in ("<script>", "<img", "<svg", "<iframe", "<scr<"):
        if raw in lowered:
            found.append(f"raw {raw}")
    return found


def assert_sanitised(stored: str) -> None:
    """Stored pasted HTML: only harmless tags and attributes, no script, handler or javascript: URL."""
    assert live_markup(stored) == [], stored
    parser = _Tags()
    parser.feed(stored)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in {"p", "br", "b", "strong", "i", "em", "u", "s", "sub", "sup", "h1", "h2", "h3", "h4",
                       "blockquote", "ul", "ol", "li", "a", "span", "table", "thead", "tbody", "tr", "th",
                       "td", "hr"}, (tag, stored)
        assert set(attrs) <= {"href", "title", "colspan", "rowspan"}, (tag, attrs, stored)
        if "href" in attrs:
            assert attrs["href"].startswith(("http://", "https://", "mailto:")), (attrs, stored)


def check_csp(response) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    assert directives.get("script-src") == ["'self'"], policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, policy
    assert directives.get("object-src") == ["'none'"], policy


def page(browser, url: str, status: int = 200) -> str:
    response = browser.get(url)
    assert response.status_code == status, (url, response.status_code)
    assert response.mimetype == "text/html"
    check_csp(response)
    html = response.get_data(as_text=True)
    assert live_markup(html) == [], (url, live_markup(html))
    return html


def shown(text: str) -> str:
    """How a page shows `text` (Jinja's autoescape)."""
    return str(escape(text))


def shown_in_audit(text: str) -> str:
    """The audit page shows details in words (review.audit.describe), escaped."""
    return shown(text)


# ----------------------------------------------------------------- helpers

def _team(app, db):
    users = Factories(db).users(("editor", "editor", "张编辑"), ("leader", "leader", "王领导"),
                                ("auditor", "auditor", "陈督查"), ("registrar", "registrar", "周管理"))
    people = {u.username: u for u in users}
    return people, {n: WebUser.signed_in(app, u) for n, u in people.items()}


def _draft_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return int(re.search(r"/drafts/(\d+)$", response.headers["Location"]).group(1))


# ----------------------------------------------------------------- the tests

@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_payload_is_only_ever_shown_escaped(app, db, run_worker, payload):
    people, b = _team(app, db)
    leader_user = people["leader"]
    registrar, editor, leader, auditor = b["registrar"], b["editor"], b["leader"], b["auditor"]

    # The registrar registers a channel named with the payload.
    response = registrar.post("/admin/channels/new", {"name": payload, "platform": "website",
                                                      "leader_id": leader_user.id, "filing_status": "filed"})
    assert response.status_code == 302
    with db.transaction() as s:
        channel = s.execute(select(Channel)).scalars().one()
    assert channel.name == payload.strip()
    name = channel.name
    html = page(registrar, "/admin/channels")  # with the flash “渠道…已保存”
    assert html.count(shown(name)) >= 2
    assert shown(name) in page(registrar, f"/admin/channels/{channel.id}/edit")

    # The editor submits one plain-text and one pasted-HTML draft, titled with the payload.
    title = payload + FLAGGED
    text_body = f"第一段{payload}\n凡是{FLAGGED}都是诈骗。{payload}"
    html_body = f"<p>第一段{payload}</p><p>凡是{FLAGGED}都是诈骗。</p>{payload}"
    assert shown(name) in page(editor, "/drafts/new")  # the channel list
    text_id = _draft_id(editor.post("/drafts/new", {"channel_id": channel.id, "title": title, "body": text_body,
                                                    "body_format": "text", "action": "submit"}))
    response = editor.post("/drafts/new", {"channel_id": channel.id, "title": title, "body": html_body,
                                           "body_format": "html", "action": "submit"})
    if payload in SWALLOWS_TEXT:
        # As HTML, the broken markup would eat the text after it: refused, the message escaped.
        answer = response.get_data(as_text=True)
        assert response.status_code == 422 and "会被当作网页代码删掉" in answer and live_markup(answer) == []
        html_id = None
    else:
        html_id = _draft_id(response)
    run_worker()

    with db.transaction() as s:
        drafts = {d.id: d for d in s.execute(select(Draft)).scalars()}
        assert sorted(drafts) == sorted(filter(None, (text_id, html_id)))  # a refused draft left nothing
        assert {d.status for d in drafts.values()} == {"in_review"}
        assert drafts[text_id].title == title.strip() and drafts[text_id].body == text_body
        if html_id:
            html_version = s.get(DraftVersion, drafts[html_id].current_version_id)
            high = [f.id for f in workflow.must_acknowledge(s, drafts[html_id].current_version_id)]
            # Pasted HTML is stored sanitised: no script, no handler, no dangerous URL.
            for stored in (drafts[html_id].body, html_version.body):
                assert_sanitised(stored)

    shown_title = shown(title.strip())
    for browser, url in [(editor, f"/drafts/{text_id}"), (editor, f"/drafts/{text_id}/panel"),
                         (leader, f"/drafts/{text_id}"), (auditor, f"/drafts/{text_id}")]:
        html = page(browser, url)
        assert shown_title.replace(shown(FLAGGED), "") in html and shown(name) in html
        assert f">{FLAGGED}</mark>" in html  # the scan's highlight is there too
        assert shown(payload) in html  # the body, as the editor typed it
    for browser, url in [(editor, f"/drafts/{html_id}"), (editor, f"/drafts/{html_id}/panel"),
                         (leader, f"/drafts/{html_id}")] if html_id else []:
        html = page(browser, url)
        assert shown_title.replace(shown(FLAGGED), "") in html and shown(name) in html
    for browser, url in [(editor, "/drafts"), (leader, "/review"), (auditor, "/drafts/all")]:
        html = page(browser, url)
        assert html.count(shown_title) == len(drafts) and shown(name) in html
    edit_form = page(editor, f"/drafts/{text_id}/edit")
    assert shown_title in edit_form and shown(text_body) in edit_form

    # A rejection comment and a revision (the diff) carry the payload too.
    response = leader.post(f"/drafts/{text_id}/decision", {"decision": "reject", "version": 1,
                                                           "comment": f"请删去{payload}"})
    assert response.status_code == 302
    response = editor.post(f"/drafts/{text_id}/edit", {"channel_id": channel.id, "title": title,
                                                       "body": text_body + payload, "action": "submit"})
    assert response.status_code == 302
    html = page(editor, f"/drafts/{text_id}")
    assert shown(f"请删去{payload}") in html and "<ins>" in html
    if html_id:  # approving the HTML draft without ticking its high flags: the error names the flagged text
        response = leader.post(f"/drafts/{html_id}/decision", {"decision": "approve", "version": 1})
        assert response.status_code == 422 and high
        assert live_markup(response.get_data(as_text=True)) == []

    for browser in (auditor, registrar):
        html = page(browser, "/audit")
        assert shown_in_audit(name) in html and shown_in_audit(f"请删去{payload}") in html

    # A channel suspended under that name: the error message quotes it, escaped.
    response = registrar.post(f"/admin/channels/{channel.id}/edit", {
        "name": name, "platform": "website", "leader_id": leader_user.id, "filing_status": "suspended"})
    assert response.status_code == 302
    response = editor.post("/drafts/new", {"channel_id": channel.id, "title": "又一篇", "body": "正文",
                                           "action": "submit"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert live_markup(html) == [] and shown(f"渠道“{name}”已暂停") in html


@pytest.mark.parametrize("payload", [PAYLOADS["script"], PAYLOADS["img-onerror"], PAYLOADS["attribute-breakout"]],
                         ids=["script", "img-onerror", "attribute-breakout"])
def test_people_and_publication_fields_are_escaped(app, db, make, login, run_worker, payload):
    """A display name, a publication URL and a retraction reason with a payload."""
    people, b = _team(app, db)
    leader_user, registrar, leader = people["leader"], b["registrar"], b["leader"]
    response = registrar.post("/admin/users/new", {"username": "writer", "password": PASSWORD,
                                                   "roles": "editor", "display_name": payload[:64]})
    assert response.status_code == 302
    name = payload[:64].strip()
    assert shown(name) in page(registrar, "/admin/users")

    channel = make.channel(leader_user, "城南网站", platform="website")
    editor = login("writer")  # the new user signs in through the real login form
    draft_id = _draft_id(editor.post("/drafts/new", {"channel_id": channel.id, "title": "停水通知",
                                                     "body": "本周六停水。", "action": "submit"}))
    run_worker()
    assert leader.post(f"/drafts/{draft_id}/decision", {"decision": "approve", "version": 1}).status_code == 302
    url = "https://www.example.gov.cn/n?q=" + payload
    response = editor.post(f"/drafts/{draft_id}/publish", {"url": url, "published_at": ""})
    assert response.status_code == 302
    assert leader.post(f"/drafts/{draft_id}/retract", {"reason": payload}).status_code == 302

    for browser, url_ in [(editor, f"/drafts/{draft_id}"), (leader, f"/drafts/{draft_id}"),
                          (editor, "/drafts"), (registrar, "/audit")]:
        html = page(browser, url_)
        assert shown(name) in html
    html = page(editor, f"/drafts/{draft_id}")
    assert f'href="{shown(url)}"' in html and shown(payload) in html  # the record: link and reason


@pytest.mark.parametrize("url, status", [
    ("/login", 200), ("/no-such-page", 404), ("/drafts", 302),
])
def test_csp_on_anonymous_pages(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    check_csp(response)


def test_csp_on_signed_in_pages_and_login_reflection(app, db, make, login):
    make.users(("editor", "editor", "张编辑"))
    editor = login("editor")
    for url, status in [("/drafts", 200), ("/drafts/new", 200), ("/admin/channels", 403), ("/drafts/999", 404)]:
        page(editor, url, status)
    # A failed login shows the typed user name back, escaped.
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/login", data={"username": PAYLOADS["attribute-breakout"], "password": "x",
                                           "csrf_token": token})
    assert response.status_code == 401
    check_csp(response)
    html = response.get_data(as_text=True)
    assert live_markup(html) == [] and shown(PAYLOADS["attribute-breakout"]) in html


def test_api_returns_payloads_as_json_not_html(app, db, make):
    leader, _ = make.users(("leader", "leader", "王领导"), ("editor", "editor", "张编辑"))
    channel = make.channel(leader, PAYLOADS["script"])
    token = make.token("editor")
    client = app.test_client()
    response = client.post("/api/v1/drafts", json={"channel_id": channel.id, "title": PAYLOADS["img-onerror"],
                                                   "body": PAYLOADS["script"] + "<p>正文</p>", "body_format": "html"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_json()["title"] == PAYLOADS["img-onerror"]
    with db.transaction() as s:
        version = s.execute(select(DraftVersion)).scalars().one()
    assert "<script" not in version.body and version.text == "正文"  # a script is code, not text: gone whole


def test_sanitiser_keeps_formatting_and_drops_the_rest(app, db, make):
    people, b = _team(app, db)
    channel = make.channel(people["leader"], "城南发布")
    pasted = ('<p style="color:red" onclick="alert(1)"><b>通知</b>：<a href="javascript:alert(1)">坏链接</a>'
              '<a href="https://www.example.gov.cn/" onmouseover="alert(1)">好链接</a></p>'
              '<iframe src="https://evil.example/"></iframe><script>document.cookie</script>'
              '<img src=x onerror=alert(1)><svg><script>alert(2)</script></svg>'
              '<form action="https://evil.example/"><input name=q></form><p>第二段</p>')
    editor = b["editor"]
    draft_id = _draft_id(editor.post("/drafts/new", {"channel_id": channel.id, "title": "粘贴的网页",
                                                     "body": pasted, "body_format": "html", "action": "submit"}))
    with db.transaction() as s:
        version = s.get(DraftVersion, s.get(Draft, draft_id).current_version_id)
    assert_sanitised(version.body)
    assert '<p><b>通知</b>：<a>坏链接</a><a href="https://www.example.gov.cn/">好链接</a></p>' in version.body
    assert "<p>第二段</p>" in version.body
    assert "通知：坏链接好链接" in version.text and "第二段" in version.text
    html = page(editor, f"/drafts/{draft_id}")
    assert "通知：坏链接好链接" in html
