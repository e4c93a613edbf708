"""Notifications: the in-app centre with its unread count, and deliveries
to a channel's webhook (HMAC-SHA256 signed, retried once, never blocking
a decision), received here by a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from review import notifications, workflow
from review.models import Delivery, Draft, Notification
from tests.factories import WebUser

SECRET = "robot-relay-secret-0123456789"


class Robot:
    """A local webhook receiver answering with the given status codes in turn (then 200)."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received: list[tuple[dict, bytes]] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                robot.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                code = robot.statuses.pop(0) if robot.statuses else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b'{"errcode":0}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def signature_ok(headers: dict, body: bytes) -> bool:
    expected = hmac.new(SECRET.encode(), headers["x-imprimatur-timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-imprimatur-signature"], "sha256=" + expected)


def with_webhook(make, db, url):
    editor, leader, channel, auditor, registrar = make.team()
    with db.transaction() as s:
        notifications.set_webhook(s, registrar, channel, url, SECRET)
    return editor, leader, channel


def deliveries(db):
    with db.transaction() as s:
        return s.execute(select(Delivery).order_by(Delivery.id)).scalars().all()


@pytest.mark.app_config(NOTIFY_RETRY_INTERVALS=[0])
def test_webhook_receives_signed_json_and_a_failure_is_retried_once(app, rt, make, db, run_worker):
    with Robot(statuses=[500]) as robot:
        editor, leader, channel = with_webhook(make, db, robot.url)
        draft, version = make.submit(editor, channel, title="停水通知")
        make.scanned(rt, version.id)  # in review: the leader is told, and so is the robot
        run_worker()
    assert len(robot.received) == 2  # 500, then the retry got through
    headers, body = robot.received[-1]
    assert signature_ok(headers, body)
    assert not signature_ok({**headers, "x-imprimatur-timestamp": "1"}, body)
    payload = json.loads(body)
    assert payload["event"]["kind"] == "submitted" and payload["event"]["title"] == "停水通知"
    assert "停水通知" in payload["text"]["content"] and payload["msgtype"] == "text"
    [d] = deliveries(db)
    assert (d.kind, d.status, d.attempts) == ("webhook", "sent", 2)
    assert "500" in d.last_error or d.last_error == ""


@pytest.mark.app_config(NOTIFY_RETRY_INTERVALS=[0])
def test_a_dead_webhook_never_blocks_the_decision(app, rt, make, db, run_worker):
    with Robot(statuses=[503] * 10) as robot:
        editor, leader, channel = with_webhook(make, db, robot.url)
        draft, version = make.submit(editor, channel)
        make.scanned(rt, version.id)
        web = WebUser.signed_in(app, leader)
        response = web.post(f"/drafts/{draft.id}/decision", {"decision": "approve", "version": 1})
        assert response.status_code == 302
        with db.transaction() as s:
            assert s.get(Draft, draft.id).status == "approved"  # decided before any delivery was tried
        run_worker()
    sent = deliveries(db)
    # Both deliveries (in review, approved) were tried, tried once more, then given up.
    assert [(d.status, d.attempts) for d in sent] == [("failed", 2), ("failed", 2)]
    assert "503" in sent[0].last_error and len(robot.received) == 4


def test_in_app_centre_unread_count_and_marking_read(app, rt, make, db):
    editor, leader, channel, *_ = make.team()
    draft, version = make.submit(editor, channel, title="防汛通知")
    make.scanned(rt, version.id)
    web = WebUser.signed_in(app, leader)
    header = web.get("/review").get_data(as_text=True)
    assert 'class="badge" aria-label="未读">1<' in header
    page = web.get("/notifications").get_data(as_text=True)
    assert "防汛通知" in page and "待审核" in page
    with db.transaction() as s:
        note = s.execute(select(Notification).where(Notification.user_id == leader.id)).scalars().one()
    response = web.post("/notifications/read", {"id": note.id, "open": draft.id})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/drafts/{draft.id}")
    assert 'class="badge"' not in web.get("/review").get_data(as_text=True)
    # One person cannot mark another's notifications read.
    with db.transaction() as s:
        workflow.decide(s, leader, draft.id, "reject", "请补充落款", version=1)
    other = WebUser.signed_in(app, leader)
    with db.transaction() as s:
        mine = s.execute(select(Notification).where(Notification.user_id == editor.id)).scalars().one()
    other.post("/notifications/read", {"id": mine.id})
    with db.transaction() as s:
        assert s.get(Notification, mine.id).read_at is None
    assert "请补充落款" in WebUser.signed_in(app, editor).get("/notifications").get_data(as_text=True)


def test_email_copies_are_skipped_without_smtp_and_bad_addresses_refused(app, rt, make, db, run_worker):
    editor, leader, channel, *_ = make.team()
    web = WebUser.signed_in(app, leader)
    response = web.post("/notifications/email", {"email": "not an address"})
    assert response.status_code == 422 and "邮箱地址格式不正确" in response.get_data(as_text=True)
    assert web.post("/notifications/email", {"email": "leader@example.org"}).status_code == 302
    draft, version = make.submit(editor, channel)
    make.scanned(rt, version.id)
    run_worker()
    [d] = deliveries(db)
    assert (d.kind, d.target, d.status) == ("email", "leader@example.org", "skipped")


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to receive one message (a real socket, a real smtplib client)."""

    def handle(self):
        def reply(line):
            self.wfile.write((line + "\r\n").encode())

        reply("220 test ESMTP")
        envelope = {"to": [], "data": b""}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("ascii", "replace").strip()
            verb = command[:4].upper()
            if verb in ("HELO", "EHLO"):
                reply("250 test")
            elif verb == "MAIL":
                reply("250 OK")
            elif verb == "RCPT":
                envelope["to"].append(command.split(":", 1)[1].strip(" <>"))
                reply("250 OK")
            elif verb == "DATA":
                reply("354 go ahead")
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    envelope["data"] += chunk
                self.server.messages.append(envelope)
                reply("250 queued")
            elif verb == "QUIT":
                reply("221 bye")
                return
            else:
                reply("250 OK")


def test_email_copies_reach_a_real_smtp_server(app, rt, make, db, run_worker):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.messages = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rt.settings.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.server_address[1], SMTP_FROM="shenfa@example.org")
    try:
        editor, leader, channel, *_ = make.team()
        assert WebUser.signed_in(app, leader).post("/notifications/email",
                                                   {"email": "leader@example.org"}).status_code == 302
        draft, version = make.submit(editor, channel, title="停水通知")
        make.scanned(rt, version.id)
        run_worker()
    finally:
        server.shutdown()
        server.server_close()
    [d] = deliveries(db)
    assert (d.kind, d.status) == ("email", "sent")
    [message] = server.messages
    assert message["to"] == ["leader@example.org"]
    parsed = email.message_from_bytes(message["data"], policy=email.policy.default)
    assert parsed["From"] == "shenfa@example.org"
    assert "停水通知" in parsed["Subject"] + parsed.get_content()
