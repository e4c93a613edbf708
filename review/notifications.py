"""Notifications: the in-app centre, and what is owed to e-mail and webhooks.

`notify` writes one in-app notification per person in the caller's
transaction, plus one Delivery row per e-mail copy (people who gave an
address) and one for the channel's webhook. Deliveries are handed to a
worker only after the commit (review/aftercommit.py), so a slow or broken
mail server or robot never blocks or undoes a decision.
"""
from __future__ import annotations

import json

from sqlalchemy import bindparam, func, select, update
from sqlmodel import Session

from review import aftercommit
from review.errors import ValidationError
from review.models import (Channel, ChannelWebhook, Delivery, Draft, Notification, NotificationAddress,
                           User)
from review.timeutil import now

KIND_LABELS = {
    "submitted": "待审核",
    "approved": "审核通过",
    "rejected": "审核退回",
    "deadline": "审核超时",
    "delegation": "代审委托",
    "retracted": "撤稿",
}
MAX_TEXT = 500


def notify(session: Session, users, kind: str, text: str, *, draft: Draft | None = None,
           channel: Channel | None = None) -> list[Notification]:
    """Tell these people (duplicates and inactive accounts dropped) and queue the copies."""
    return Notifier(session).notify(users, kind, text, draft=draft, channel=channel)


class Notifier:
    """Writes notifications in one transaction. A batch (a worker storing many
    scans) keeps one, so each person's e-mail address and each channel's
    webhook are looked up once, not once per draft."""

    def __init__(self, session: Session):
        self.session = session
        self._emails: dict[int, str | None] = {}
        self._hooks: dict[int, ChannelWebhook | None] = {}

    def notify(self, users, kind: str, text: str, *, draft: Draft | None = None,
               channel: Channel | None = None) -> list[Notification]:
        session = self.session
        text = text[:MAX_TEXT]
        seen, out = set(), []
        for user in users:
            if user is None or user.id in seen or not user.active:
                continue
            seen.add(user.id)
            out.append(Notification(user_id=user.id, kind=kind, draft_id=draft.id if draft else None, text=text))
        session.add_all(out)
        subject = f"【审发台】{KIND_LABELS.get(kind, kind)}" + (f"：{draft.title}" if draft else "")
        deliveries = []
        for email in self._addresses(seen):
            deliveries.append(Delivery(kind="email", target=email, subject=subject[:200], payload=text,
                                       channel_id=channel.id if channel else None))
        hook = self._hook(channel) if channel else None
        if hook is not None and (out or kind == "deadline"):
            body = {
                "msgtype": "text",
                "text": {"content": f"{subject}\n{text}"},
                "event": {"kind": kind, "channel_id": channel.id, "channel": channel.name,
                          "draft_id": draft.id if draft else None, "title": draft.title if draft else None,
                          "at": now().isoformat(), "recipients": len(out)},
            }
            deliveries.append(Delivery(kind="webhook", target=hook.url, channel_id=channel.id,
                                       subject=subject[:200],
                                       payload=json.dumps(body, ensure_ascii=False, sort_keys=True)))
        if deliveries:  # their ids are owed after the commit; plain notifications go in with the next flush
            session.add_all(deliveries)
            session.flush()
            for d in deliveries:
                aftercommit.defer(session, "deliver", d.id)
        return out

    def _addresses(self, user_ids: set[int]) -> list[str]:
        missing = [i for i in user_ids if i not in self._emails]
        if missing:
            self._emails.update(dict.fromkeys(missing))
            for address in self.session.execute(select(NotificationAddress).where(
                    NotificationAddress.user_id.in_(missing), NotificationAddress.email != "")).scalars():
                self._emails[address.user_id] = address.email
        return [self._emails[i] for i in sorted(user_ids) if self._emails[i]]

    def _hook(self, channel: Channel) -> ChannelWebhook | None:
        if channel.id not in self._hooks:
            self._hooks[channel.id] = self.session.get(ChannelWebhook, channel.id)
        return self._hooks[channel.id]


def unread_sql():
    """SQL, correlated to the User row of the enclosing select: how many of their notifications are
    unread. The header's badge, loaded with the signed-in user (review/web/auth.py)."""
    return (select(func.count(Notification.id)).where(Notification.user_id == User.id, Notification.read_at.is_(None))
            .correlate(User).scalar_subquery())


_UNREAD = select(func.count(Notification.id)).where(Notification.user_id == bindparam("user_id"),
                                                    Notification.read_at.is_(None))


def unread_count(session: Session, user: User) -> int:
    return session.execute(_UNREAD, {"user_id": user.id}).scalar_one()


def recent(session: Session, user: User, limit: int = 100) -> list[Notification]:
    return list(session.execute(select(Notification).where(Notification.user_id == user.id)
                                .order_by(Notification.created_at.desc(), Notification.id.desc())
                                .limit(limit)).scalars())


def mark_read(session: Session, user: User, notification_id: int | None = None) -> int:
    """Mark one (or, with no id, every) unread notification of this user as read. Not audited: no state of record."""
    stmt = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    return session.execute(stmt.values(read_at=now()).execution_options(synchronize_session=False)).rowcount


def set_email(session: Session, user: User, email: str) -> NotificationAddress:
    from review import audit

    email = (email or "").strip()
    if email and ("@" not in email or len(email) > 254 or any(c.isspace() for c in email)):
        raise ValidationError("邮箱地址格式不正确", field="email")
    row = session.get(NotificationAddress, user.id) or NotificationAddress(user_id=user.id)
    row.email = email
    session.add(row)
    session.flush()
    audit.record(session, "notify.email_set", user, email=email)
    return row


def email_of(session: Session, user: User) -> str:
    row = session.get(NotificationAddress, user.id)
    return row.email if row else ""


# ---------------------------------------------------------------- webhooks

def set_webhook(session: Session, actor: User, channel: Channel, url: str, secret: str) -> ChannelWebhook | None:
    """Set or (empty url) remove a channel's webhook. The secret is kept when left empty on an update."""
    from urllib.parse import urlparse

    from review import audit

    url = (url or "").strip()
    existing = session.get(ChannelWebhook, channel.id)
    if not url:
        if existing is not None:
            session.delete(existing)
            session.flush()
            audit.record(session, "webhook.removed", actor, channel_id=channel.id)
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 1000:
        raise ValidationError("通知地址应以 http:// 或 https:// 开头", field="webhook_url")
    secret = (secret or "").strip() or (existing.secret if existing else "")
    if len(secret) < 16 or len(secret) > 128:
        raise ValidationError("签名密钥应为16到128个字符", field="webhook_secret")
    hook = existing or ChannelWebhook(channel_id=channel.id, url=url, secret=secret)
    hook.url, hook.secret, hook.updated_at = url, secret, now()
    session.add(hook)
    session.flush()
    audit.record(session, "webhook.updated", actor, channel_id=channel.id, url=url)
    return hook


def claim_delivery(session: Session, delivery_id: int) -> Delivery | None:
    """For the worker: the delivery if still owed, with one more attempt counted."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return None
    delivery.attempts += 1
    session.add(delivery)
    return delivery


def finish_delivery(session: Session, delivery_id: int, status: str, error: str = "") -> None:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        return
    delivery.status = status
    delivery.last_error = error[:500]
    if status == "sent":
        delivery.sent_at = now()
    session.add(delivery)


def pending_deliveries(session: Session, older_than_seconds: int = 60) -> list[int]:
    """Deliveries still pending a while after they were created (their job was lost)."""
    from datetime import timedelta

    cutoff = now() - timedelta(seconds=older_than_seconds)
    return list(session.execute(select(Delivery.id).where(Delivery.status == "pending",
                                                          Delivery.created_at < cutoff)).scalars())
