"""Explicit test-data factories, built on the real domain functions."""
from __future__ import annotations

import itertools
import re

from review import accounts, audit, channels, workflow
from review.models import User

PASSWORD = "secret-pass-1"
_seq = itertools.count(1)
_password_hash: str | None = None
_engine = None  # the default word lists never change during a run


def shared_password_hash() -> str:
    """argon2 costs a quarter of a second a call: bulk test users share one hash of PASSWORD."""
    global _password_hash
    if _password_hash is None:
        _password_hash = accounts.hash_password(PASSWORD)
    return _password_hash


class WebUser:
    """A browser session through the test client; its POSTs carry the CSRF
    token of a page it loaded (pass csrf=False to leave it out)."""

    def __init__(self, app):
        self.client = app.test_client()
        self.csrf = ""

    @classmethod
    def login(cls, app, username: str, password: str = PASSWORD) -> "WebUser":
        """Signed in through the real login form."""
        web = cls(app)
        web.csrf = _csrf(web.client.get("/login").get_data(as_text=True))
        response = web.client.post("/login", data={"username": username, "password": password,
                                                   "csrf_token": web.csrf})
        assert response.status_code == 302, response.get_data(as_text=True)
        return web

    @classmethod
    def signed_in(cls, app, user: User | None) -> "WebUser":
        """Signed in by putting the user's id in the Flask-Login session (no
        argon2 per test); None stays anonymous with the login page's token."""
        web = cls(app)
        if user is not None:
            with web.client.session_transaction() as session:
                session["_user_id"] = str(user.id)
                session["_fresh"] = True
        # Signed in, any page carries the logout form with its token (a 404 is the cheapest).
        web.csrf = _csrf(web.client.get("/login" if user is None else "/no-such-page").get_data(as_text=True))
        return web

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf)
        return self.client.post(url, data=data, **kw)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Factories:
    def __init__(self, db):
        self.db = db

    def user(self, username: str | None = None, *roles: str, display_name: str = "") -> User:
        username = username or f"user{next(_seq)}"
        with self.db.transaction() as s:
            return accounts.create_user(s, username, PASSWORD, roles or ("editor",),
                                        display_name=display_name or username)

    def users(self, *specs: tuple) -> list[User]:
        """Many users at once ((username, "role role", display name?) each), sharing one password hash."""
        with self.db.transaction() as s:
            out = []
            for username, roles, *name in specs:
                user = User(username=username, display_name=name[0] if name else username,
                            password_hash=shared_password_hash(), roles=roles)
                s.add(user)
                s.flush()
                audit.record(s, "user.created", None, username=username, roles=roles.split())
                out.append(user)
            return out

    def channel(self, leader: User, name: str | None = None, **fields):
        data = {"name": name or f"渠道{next(_seq)}", "platform": "wechat_official", "leader_id": leader.id,
                "filing_status": "filed", **fields}
        with self.db.transaction() as s:
            return channels.create_channel(s, data, None)

    def submit(self, author: User, channel, title="通知", body="这是一篇普通的通知。", **kw):
        with self.db.transaction() as s:
            draft, version, _ = workflow.submit(s, author, channel.id, title, body, **kw)
        return draft, version

    def team(self):
        """An editor, a leader, a channel they share, an auditor and a registrar."""
        editor = self.user("editor", "editor", display_name="张编辑")
        leader = self.user("leader", "leader", display_name="王领导")
        auditor = self.user("auditor", "auditor", display_name="陈督查")
        registrar = self.user("registrar", "registrar", display_name="周管理")
        channel = self.channel(leader, "城南发布")
        return editor, leader, channel, auditor, registrar

    def scanned(self, rt, version_id: int):
        """Scan now, in process: exactly what the worker's job runs, without a
        worker (for tests about something else). The engine is built once."""
        global _engine
        if _engine is None:
            _engine = rt.engines.get()
        result = workflow.scan_version(self.db, version_id, _engine)
        assert result is not None
        return result

    def token(self, username: str) -> str:
        with self.db.transaction() as s:
            return accounts.create_token(s, username, "test")
