"""Login throttling (per account and per address, in Redis, 429 in Chinese,
nothing learnt about which accounts exist), the session cookie's flags and
the security headers."""
from __future__ import annotations

import re

import pytest

from review import accounts
from review.web.ratelimit import LoginLimiter
from tests.factories import PASSWORD, WebUser

LIMITS = {"LOGIN_MAX_FAILURES_ACCOUNT": 3, "LOGIN_MAX_FAILURES_ADDRESS": 6, "LOGIN_FAILURE_WINDOW": 600}


def attempt(app, username, password, address="10.0.0.1"):
    web = WebUser(app)
    web.csrf = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").get_data(as_text=True)).group(1)
    return web.client.post("/login", data={"username": username, "password": password, "csrf_token": web.csrf},
                           environ_base={"REMOTE_ADDR": address})


def flash(response) -> str:
    return " ".join(re.findall(r'<p class="flash error"[^>]*>([^<]*)</p>', response.get_data(as_text=True)))


class VerifyCounter:
    """Counts argon2 verifications (and still performs them)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        self.real = accounts._hasher
        monkeypatch.setattr(accounts, "_hasher", self)

    def verify(self, *args, **kw):
        self.calls += 1
        return self.real.verify(*args, **kw)


@pytest.mark.app_config(**LIMITS)
def test_failures_on_one_account_are_refused_with_429(app, make):
    make.users(("editor", "editor"))
    for _ in range(3):
        response = attempt(app, "editor", "wrong-password")
        assert response.status_code == 401 and flash(response) == "用户名或密码错误"
    # Even the right password is refused now, and says why, in Chinese.
    response = attempt(app, "editor", PASSWORD)
    assert response.status_code == 429
    assert flash(response) == "登录失败次数过多，请10分钟后再试"
    assert 0 < int(response.headers["Retry-After"]) <= 600
    # Another account from the same address is not locked out by it.
    make.users(("leader", "leader"))
    assert attempt(app, "leader", PASSWORD).status_code == 302


@pytest.mark.app_config(**LIMITS)
def test_unknown_and_known_accounts_are_indistinguishable(app, make, monkeypatch):
    make.users(("editor", "editor"))
    counter = VerifyCounter(monkeypatch)
    answers = {}
    for name in ("editor", "no-such-user"):
        seen = []
        for _ in range(4):
            response = attempt(app, name, "wrong-password", address=f"10.0.1.{len(answers)}")
            body = response.get_data(as_text=True).replace(name, "NAME")
            body = re.sub(r'value="[^"]{40,}"', 'value="TOKEN"', body)
            seen.append((response.status_code, flash(response), body))
        answers[name] = seen
    assert answers["editor"] == answers["no-such-user"]
    assert [s for s, _, _ in answers["editor"]] == [401, 401, 401, 429]
    # The same work for both: one password hash check per attempt that got that far, none once refused.
    assert counter.calls == 6


@pytest.mark.app_config(**LIMITS)
def test_inactive_account_costs_the_same_hash_check(app, make, db, monkeypatch):
    (user,) = make.users(("gone", "editor"))
    with db.transaction() as s:
        s.get(type(user), user.id).active = False
    counter = VerifyCounter(monkeypatch)
    response = attempt(app, "gone", PASSWORD)
    assert response.status_code == 401 and flash(response) == "用户名或密码错误" and counter.calls == 1


@pytest.mark.app_config(**LIMITS)
def test_failures_from_one_address_across_accounts_are_refused(app, make, rt):
    make.users(("editor", "editor"))
    for i in range(6):  # two tries at each of three names: no single account reaches its limit
        assert attempt(app, f"guess{i // 2}", "wrong-password", address="10.9.9.9").status_code == 401
    response = attempt(app, "editor", PASSWORD, address="10.9.9.9")
    assert response.status_code == 429 and "登录失败次数过多" in flash(response)
    assert attempt(app, "editor", PASSWORD, address="10.9.9.10").status_code == 302
    # The counters live in Redis, with the window as their lifetime.
    keys = [k.decode() for k in rt.redis.scan_iter(f"imprimatur:login-failures:{app.config['SCAN_QUEUE']}:*")]
    assert any(":address:10.9.9.9" in k for k in keys)
    assert all(0 < rt.redis.ttl(k) <= 600 for k in keys)


@pytest.mark.app_config(**LIMITS)
def test_a_successful_login_clears_its_account_counter(app, make):
    make.users(("editor", "editor"))
    for _ in range(2):
        assert attempt(app, "editor", "wrong-password").status_code == 401
    assert attempt(app, "editor", PASSWORD).status_code == 302
    for _ in range(2):
        assert attempt(app, "editor", "wrong-password").status_code == 401
    assert attempt(app, "editor", PASSWORD).status_code == 302


@pytest.mark.app_config(REDIS_URL="unix:///nonexistent/imprimatur-test.sock")
def test_login_still_works_while_redis_is_down(app, make):
    make.users(("editor", "editor"))
    assert attempt(app, "editor", "wrong-password").status_code == 401
    assert attempt(app, "editor", PASSWORD).status_code == 302


def test_limiter_keys_name_no_account_in_clear(app, rt):
    limiter = LoginLimiter(rt.redis, app.config)
    assert "editor" not in limiter._account_key("editor")
    assert limiter._account_key(" Editor ") == limiter._account_key("editor")


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite(app, make):
    make.users(("editor", "editor"))
    cookie = _session_cookie(attempt(app, "editor", PASSWORD))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


@pytest.mark.app_config(PREFERRED_URL_SCHEME="https")
def test_session_cookie_is_secure_over_https(app, make):
    make.users(("editor", "editor"))
    cookie = _session_cookie(attempt(app, "editor", PASSWORD))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers_on_every_kind_of_response(client):
    for url in ("/login", "/static/app.js", "/no-such-page", "/api/v1/channels"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, url
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] == "same-origin", url


def test_ids_beyond_the_database_range_are_404_not_500(app, make):
    editor, *_ = make.users(("editor", "editor"))
    web = WebUser.signed_in(app, editor)
    for url in ("/drafts/2147483648", "/drafts/99999999999999999999999/panel", "/api/v1/drafts/2147483648"):
        assert web.get(url).status_code == 404, url
    token = make.token("editor")
    response = web.client.post("/api/v1/drafts", json={"channel_id": 2**40, "title": "标题", "body": "正文"},
                               headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (404, 422) and response.get_json()["error"]["message"]
