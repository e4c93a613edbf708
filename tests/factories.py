"""Explicit test-data factories, built on the real domain functions."""
from __future__ import annotations

import itertools

from review import accounts, channels, workflow
from review.models import User

PASSWORD = "secret-pass-1"
_seq = itertools.count(1)


class Factories:
    def __init__(self, db):
        self.db = db

    def user(self, username: str | None = None, *roles: str, display_name: str = "") -> User:
        username = username or f"user{next(_seq)}"
        with self.db.transaction() as s:
            return accounts.create_user(s, username, PASSWORD, roles or ("editor",),
                                        display_name=display_name or username)

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

    def token(self, username: str) -> str:
        with self.db.transaction() as s:
            return accounts.create_token(s, username, "test")
