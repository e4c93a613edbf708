"""Bad input gets a clear Chinese error and changes nothing.

Every case counts drafts, versions, decisions, publications and audit events
(and the draft's status, where there is one) before and after: a rejected
request must leave all of them as they were. Web errors are shown on the page
(the form again, with the message); API errors are JSON objects
{"error": {"code", "message"[, "field"]}} with the right status.
"""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from review import workflow
from tests.factories import WebUser
from review.models import AuditEvent, Decision, Draft, DraftVersion, Publication

MAX_BODY = 100_000
MAX_REQUEST = 2 * 1024 * 1024  # MAX_CONTENT_LENGTH
OK_BODY = "因管道检修，本周六上午城南街道停水。"


# ----------------------------------------------------------------- helpers

class Setup:
    def __init__(self, app, db, rt, make):
        self.app, self.db, self.rt, self.make = app, db, rt, make
        self.editor, self.leader = make.users(("editor", "editor"), ("leader", "leader"))
        self.channel = make.channel(self.leader, "城南网站", platform="website")
        self.draft_id = None

    def browser(self, who: str = "editor") -> WebUser:
        return WebUser.signed_in(self.app, getattr(self, who))

    def token(self, who: str = "editor") -> str:
        return self.make.token(who)

    def draft(self, state: str = "queued") -> int:
        draft, version = self.make.submit(self.editor, self.channel, "停水通知", OK_BODY)
        self.draft_id = draft.id
        if state in ("in_review", "approved"):
            self.make.scanned(self.rt, version.id)
        if state == "approved":
            with self.db.transaction() as s:
                workflow.decide(s, self.leader, draft.id, "approve", version=1)
        assert self.status() == state
        return draft.id

    def status(self) -> str:
        with self.db.transaction() as s:
            return s.get(Draft, self.draft_id).status

    def snapshot(self) -> dict:
        with self.db.transaction() as s:
            counts = {m.__name__: s.scalar(select(func.count()).select_from(m))
                      for m in (Draft, DraftVersion, Decision, Publication, AuditEvent)}
            if self.draft_id:
                d = s.get(Draft, self.draft_id)
                counts["draft"] = (d.status, d.current_version_id, d.title, d.body)
            return counts


@pytest.fixture
def setup(app, db, rt, make):
    return Setup(app, db, rt, make)


def form_error(response) -> str:
    """The message in the page's error box."""
    html = response.get_data(as_text=True)
    match = re.search(r'<p class="flash error" role="alert">(.*?)</p>', html, re.S)
    assert match, html[:3000]
    return match.group(1)


def api_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code and isinstance(error["message"], str), error
    assert re.search(r"[\u4e00-\u9fff]", error["message"]), error  # a Chinese message
    return error


def new_draft(setup, **fields) -> dict:
    return {"channel_id": setup.channel.id, "title": "停水通知", "body": OK_BODY, "body_format": "text",
            "action": "submit", **fields}


def api_post(app, url, token, payload=None, *, raw=None, content_type="application/json"):
    data = raw if raw is not None else json.dumps(payload)
    return app.test_client().post(url, data=data, content_type=content_type,
                                  headers={"Authorization": f"Bearer {token}"})


# ----------------------------------------------------------------- the new-draft form

BAD_DRAFTS = {
    # case: (form fields, status, message shown)
    "empty title": ({"title": ""}, 422, "标题不能为空"),
    "blank title": ({"title": " \t　 "}, 422, "标题不能为空"),
    "title over 200": ({"title": "题" * 201}, 422, "标题不能超过200字"),
    "empty body": ({"body": ""}, 422, "正文不能为空"),
    "whitespace body": ({"body": "  \n\t\r\n  "}, 422, "正文不能为空"),
    "html body without text": ({"body": "<p>&nbsp;</p><img src=x><script>  </script>", "body_format": "html"},
                               422, "正文不能为空"),
    "plain text marked as html": ({"body": "请注意 a<b 且 c>d，价格 5 < 10", "body_format": "html"},
                                  422, "正文中“&lt;b且c&gt;d，价格5&lt;10”一处会被当作网页代码删掉"),
    "html cut by an unclosed tag": ({"body": '<p>停水通知</p><img src="x" alt="图', "body_format": "html"},
                                    422, "会被当作网页代码删掉"),
    "body over 100,000": ({"body": "字" * (MAX_BODY + 1)}, 422, "正文不能超过100,000字（当前100,001字）"),
    "unknown body format": ({"body_format": "markdown"}, 422, "正文格式只能是纯文本或HTML"),
    "unknown channel": ({"channel_id": "9999"}, 404, "渠道不存在"),
    "non-numeric channel": ({"channel_id": "城南"}, 404, "渠道不存在"),
    "no channel": ({"channel_id": ""}, 404, "渠道不存在"),
}


@pytest.mark.parametrize("action", ["submit", "save"])
@pytest.mark.parametrize("case", list(BAD_DRAFTS))
def test_new_draft_form_rejects_bad_input(setup, case, action):
    fields, status, message = BAD_DRAFTS[case]
    before = setup.snapshot()
    response = setup.browser().post("/drafts/new", new_draft(setup, action=action, **fields))
    assert response.status_code == status
    assert message in form_error(response)
    assert 'name="title"' in response.get_data(as_text=True)  # the form again, to correct
    assert setup.snapshot() == before


def test_a_paste_from_word_keeps_its_text_and_drops_its_styles_and_scripts(setup):
    pasted = ('<!--[if gte mso 9]><xml><w:WordDocument></w:WordDocument></xml><![endif]-->'
              '<style>p.MsoNormal{margin:0cm;font-family:"宋体";}</style>'
              '<p class=MsoNormal style="text-indent:2em">各位居民：<o:p></o:p></p>'
              '<p class=MsoNormal>周六上午停水，&lt;请&gt;提前储水。<script>alert(3)</script></p>')
    response = setup.browser().post("/drafts/new", new_draft(setup, body=pasted, body_format="html"))
    assert response.status_code == 302
    with setup.db.transaction() as s:
        version = s.execute(select(DraftVersion)).scalars().one()
    assert version.text == "各位居民：\n周六上午停水，<请>提前储水。"
    assert "MsoNormal" not in version.body and "alert" not in version.body


@pytest.mark.parametrize("filing, label", [("suspended", "暂停"), ("closed", "注销")])
def test_no_drafts_for_suspended_or_closed_channels(setup, filing, label):
    blocked = setup.make.channel(setup.leader, "城北公众号", filing_status=filing)
    browser, token = setup.browser(), setup.token()
    # The form does not offer it ...
    assert "城北公众号" not in browser.get("/drafts/new").get_data(as_text=True)
    before = setup.snapshot()
    # ... and a crafted request for it is refused, for submit and save, web and API.
    for action in ("submit", "save"):
        response = browser.post("/drafts/new", new_draft(setup, channel_id=blocked.id, action=action))
        assert response.status_code == 422
        assert f"渠道“城北公众号”已{label}，不能提交稿件" in form_error(response)
    error = api_error(api_post(setup.app, "/api/v1/drafts", token,
                               {"channel_id": blocked.id, "title": "停水通知", "body": OK_BODY}), 422, "invalid")
    assert error["message"] == f"渠道“城北公众号”已{label}，不能提交稿件" and error["field"] == "channel_id"
    assert setup.snapshot() == before


def test_body_of_exactly_100000_characters_is_accepted(setup):
    response = setup.browser().post("/drafts/new", new_draft(setup, body="字" * MAX_BODY))
    assert response.status_code == 302
    with setup.db.transaction() as s:
        assert len(s.execute(select(DraftVersion)).scalars().one().text) == MAX_BODY


def test_revising_with_bad_input_keeps_the_version_under_review(setup):
    draft_id = setup.draft("in_review")
    before = setup.snapshot()
    browser = setup.browser()
    for fields, message in [({"title": ""}, "标题不能为空"), ({"body": "字" * (MAX_BODY + 1)}, "正文不能超过"),
                            ({"body": "   "}, "正文不能为空")]:
        response = browser.post(f"/drafts/{draft_id}/edit", new_draft(setup, **fields))
        assert response.status_code == 422 and message in form_error(response)
    assert setup.snapshot() == before and setup.status() == "in_review"


# ----------------------------------------------------------------- the API

API_BAD_DRAFTS = {
    "empty title": ({"title": ""}, 422, "invalid", "title"),
    "whitespace body": ({"body": " \n\t "}, 422, "invalid", "body"),
    "body over 100,000": ({"body": "字" * (MAX_BODY + 1)}, 422, "invalid", "body"),
    "title not text": ({"title": 123}, 422, "invalid", None),
    "body missing": ({"body": None}, 422, "invalid", None),
    "unknown body format": ({"body_format": "pdf"}, 422, "invalid", "body_format"),
    "unknown channel": ({"channel_id": 9999}, 404, "not_found", "channel_id"),
    "channel missing": ({"channel_id": None}, 404, "not_found", "channel_id"),
    "channel id not a number": ({"channel_id": "城南"}, 404, "not_found", "channel_id"),
    # JSON booleans and fractions are not channel ids (int(True) == 1, int(1.5) == 1):
    # refused like any other bad id (404 “渠道不存在” or 422), never filed under channel 1.
    "channel id true": ({"channel_id": True}, None, None, "channel_id"),
    "channel id 1.5": ({"channel_id": 1.5}, None, None, "channel_id"),
    # bool("false") is True: a string is not a yes/no, and must not make a draft urgent.
    "urgent as a string": ({"urgent": "false"}, 422, "invalid", "urgent"),
}


@pytest.mark.parametrize("case", list(API_BAD_DRAFTS))
def test_api_rejects_bad_drafts(setup, case):
    fields, status, code, field = API_BAD_DRAFTS[case]
    token = setup.token()
    before = setup.snapshot()
    payload = {"channel_id": setup.channel.id, "title": "停水通知", "body": OK_BODY, **fields}
    response = api_post(setup.app, "/api/v1/drafts", token, payload)
    if status is None:  # either refusal will do
        status, code = (404, "not_found") if response.status_code == 404 else (422, "invalid")
    error = api_error(response, status, code)
    if field:
        assert error.get("field") == field
    assert setup.snapshot() == before


@pytest.mark.parametrize("raw, content_type", [
    ('{"channel_id": 1, "title": "停水通知", "body": ', "application/json"),  # cut off
    ("{'channel_id': 1}", "application/json"),  # not JSON
    ('[{"channel_id": 1, "title": "停水通知", "body": "正文"}]', "application/json"),  # an array
    ('"停水通知"', "application/json"),  # a string
    ("null", "application/json"),
    ("", "application/json"),
    ("channel_id=1&title=x&body=y", "application/x-www-form-urlencoded"),  # a form, not JSON
], ids=["truncated", "single-quoted", "array", "string", "null", "empty", "form-encoded"])
@pytest.mark.parametrize("url", ["/api/v1/drafts", "/api/v1/drafts/{draft}/decision", "/api/v1/scan"])
def test_api_malformed_json_is_a_400_json_error(setup, raw, content_type, url):
    setup.draft("in_review")
    token = setup.token("leader" if "decision" in url else "editor")
    before = setup.snapshot()
    response = api_post(setup.app, url.format(draft=setup.draft_id), token, raw=raw, content_type=content_type)
    error = api_error(response, 400, "bad_request")
    assert "JSON" in error["message"]
    assert setup.snapshot() == before


def test_api_scan_refuses_text_over_the_limit(setup):
    token = setup.token()
    error = api_error(api_post(setup.app, "/api/v1/scan", token, {"text": "字" * (MAX_BODY + 1)}), 422, "invalid")
    assert "不能超过100,000字" in error["message"]
    error = api_error(api_post(setup.app, "/api/v1/scan", token, {"text": 42}), 422, "invalid")
    assert error["field"] == "text"


# ----------------------------------------------------------------- CSRF

@pytest.mark.parametrize("token", ["missing", "wrong"])
def test_new_draft_form_needs_the_csrf_token(setup, login, token):
    editor = login("editor")  # the real login form, as a browser does
    before = setup.snapshot()
    data = new_draft(setup)
    if token == "wrong":
        data["csrf_token"] = editor.csrf[:-4] + "AAAA"
    response = editor.post("/drafts/new", data, csrf=False)
    assert response.status_code == 400
    assert "CSRF 校验失败" in response.get_data(as_text=True)
    assert setup.snapshot() == before
    assert editor.post("/drafts/new", new_draft(setup)).status_code == 302  # with it: stored


@pytest.mark.parametrize("token", ["missing", "wrong", "another session's"])
def test_decision_form_needs_the_csrf_token(setup, login, token):
    draft_id = setup.draft("in_review")
    leader = login("leader")
    before = setup.snapshot()
    data = {"decision": "approve", "version": "1"}
    if token == "wrong":
        data["csrf_token"] = "not-a-token"
    elif token == "another session's":
        data["csrf_token"] = setup.browser("leader").csrf
    response = leader.post(f"/drafts/{draft_id}/decision", data, csrf=False)
    assert response.status_code == 400
    assert "CSRF 校验失败" in response.get_data(as_text=True)
    assert setup.snapshot() == before and setup.status() == "in_review"


# ----------------------------------------------------------------- decisions

@pytest.mark.parametrize("version", ["abc", "", "1.0", "一", None])
def test_decision_with_a_non_numeric_version(setup, version):
    draft_id = setup.draft("in_review")
    before = setup.snapshot()
    data = {"decision": "approve"} if version is None else {"decision": "approve", "version": version}
    response = setup.browser("leader").post(f"/drafts/{draft_id}/decision", data)
    assert response.status_code == 422
    assert "请指明审核的版本号" in form_error(response)
    assert setup.snapshot() == before and setup.status() == "in_review"


@pytest.mark.parametrize("version", ["abc", None, [1], {"number": 1}, True, 1.5],
                         ids=["string", "null", "list", "object", "true", "fraction"])
def test_api_decision_with_a_non_integer_version(setup, version):
    draft_id = setup.draft("in_review")
    token = setup.token("leader")
    before = setup.snapshot()
    response = api_post(setup.app, f"/api/v1/drafts/{draft_id}/decision", token,
                        {"decision": "approve", "version": version})
    error = api_error(response, 422, "invalid")
    assert error["field"] == "version"
    assert setup.snapshot() == before and setup.status() == "in_review"


@pytest.mark.parametrize("decision", ["", "maybe", "APPROVE"])
def test_decision_must_be_approve_or_reject(setup, decision):
    draft_id = setup.draft("in_review")
    before = setup.snapshot()
    response = setup.browser("leader").post(f"/drafts/{draft_id}/decision", {"decision": decision, "version": "1"})
    assert response.status_code == 422 and "审核结论只能是通过或退回" in form_error(response)
    assert setup.snapshot() == before


# ----------------------------------------------------------------- publication

@pytest.mark.parametrize("url", ["ftp://www.example.gov.cn/a", "javascript:alert(1)", "www.example.gov.cn/a",
                                 "https://", "mailto:office@example.gov.cn", "//www.example.gov.cn/a"])
def test_publish_needs_an_http_link_on_a_website_channel(setup, url):
    draft_id = setup.draft("approved")
    before = setup.snapshot()
    response = setup.browser().post(f"/drafts/{draft_id}/publish", {"url": url, "published_at": ""})
    assert response.status_code == 422
    assert "发布链接应以 http:// 或 https:// 开头" in form_error(response)
    assert setup.snapshot() == before and setup.status() == "approved"


@pytest.mark.parametrize("published_at, message", [
    ("明天上午", "发布时间格式应为 YYYY-MM-DD HH:MM"),
    ("2026-13-01 10:00", "发布时间格式应为 YYYY-MM-DD HH:MM"),
    ("2026/11/27 09:30", "发布时间格式应为 YYYY-MM-DD HH:MM"),
    ("27.11.2026", "发布时间格式应为 YYYY-MM-DD HH:MM"),
    ("2099-01-01 09:00", "发布时间不能晚于现在"),
])
def test_publish_with_a_bad_time(setup, published_at, message):
    draft_id = setup.draft("approved")
    before = setup.snapshot()
    response = setup.browser().post(f"/drafts/{draft_id}/publish", {"url": "https://www.example.gov.cn/a",
                                                                    "published_at": published_at})
    assert response.status_code == 422 and message in form_error(response)
    assert setup.snapshot() == before and setup.status() == "approved"


def test_publish_without_an_address(setup):
    draft_id = setup.draft("approved")
    before = setup.snapshot()
    response = setup.browser().post(f"/drafts/{draft_id}/publish", {"url": "   ", "published_at": ""})
    assert response.status_code == 422 and "请填写发布地址" in form_error(response)
    assert setup.snapshot() == before


# ----------------------------------------------------------------- request size

def test_web_request_over_max_content_length_is_413(setup):
    before = setup.snapshot()
    response = setup.browser().post("/drafts/new", new_draft(setup, body="a" * (MAX_REQUEST + 1)))
    assert response.status_code == 413
    assert response.mimetype == "text/html" and "提交的内容过大" in response.get_data(as_text=True)
    assert setup.snapshot() == before


@pytest.mark.parametrize("url", ["/api/v1/drafts", "/api/v1/scan"])
def test_api_request_over_max_content_length_is_a_413_json_error(setup, url):
    token = setup.token()
    before = setup.snapshot()
    payload = {"channel_id": setup.channel.id, "title": "停水通知", "body": "a" * (MAX_REQUEST + 1),
               "text": "a" * (MAX_REQUEST + 1)}
    error = api_error(api_post(setup.app, url, token, payload), 413, "too_large")
    assert error["message"].startswith("提交的内容过大") and "2 MB" in error["message"]  # says what the limit is
    assert setup.snapshot() == before
