"""The tamper-evident audit trail.

Every state change appends one event in the same transaction as the change.
Each event's hash covers its own fields and the previous event's hash, so
editing or deleting any stored event breaks the chain from there on;
`AuditHead` remembers the newest seq and hash, so removing the newest events
is caught as well.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session

from review.models import AuditEvent, AuditHead, User
from review.models.audit import GENESIS_HASH
from review.timeutil import now

ACTION_LABELS = {
    "user.created": "创建用户",
    "user.updated": "修改用户",
    "token.created": "创建API令牌",
    "channel.created": "登记渠道",
    "channel.updated": "修改渠道",
    "draft.saved": "保存草稿",
    "draft.submitted": "提交审核",
    "draft.resubmitted": "修改后重新提交",
    "scan.started": "开始检测",
    "scan.completed": "检测完成",
    "scan.failed": "检测失败",
    "scan.retried": "重新检测",
    "draft.approved": "审核通过",
    "draft.rejected": "审核退回",
    "draft.published": "登记发布",
    "draft.retracted": "撤稿",
    "draft.withdrawn": "撤回",
}


def _canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")


def event_hash(event: AuditEvent) -> str:
    body = _canonical({
        "seq": event.seq,
        "at": _stamp(event.at),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "action": event.action,
        "draft_id": event.draft_id,
        "channel_id": event.channel_id,
        "detail": event.detail,
        "prev": event.prev_hash,
    })
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(
    session: Session,
    action: str,
    actor: User | None,
    *,
    draft_id: int | None = None,
    channel_id: int | None = None,
    **detail,
) -> AuditEvent:
    """Append one event. Call inside the transaction that makes the change."""
    # Take the head row's lock first: on PostgreSQL a row lock, on SQLite the
    # database write lock. Appenders queue here, so the chain never forks.
    head_row = session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.last_hash)
    ).first()
    if head_row is None:
        session.add(AuditHead(id=1, seq=1, last_hash=GENESIS_HASH))
        session.flush()
        seq, prev = 1, GENESIS_HASH
    else:
        seq, prev = head_row
    event = AuditEvent(
        seq=seq,
        at=now(),
        actor_id=actor.id if actor else None,
        actor_name=actor.display_name if actor else "系统",
        action=action,
        draft_id=draft_id,
        channel_id=channel_id,
        detail=_canonical(detail),
        prev_hash=prev,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=event.hash))
    session.flush()
    return event


@dataclass
class VerifyReport:
    ok: bool
    count: int
    message: str
    bad_seq: int | None = None


def verify(session: Session, batch: int = 5000) -> VerifyReport:
    """Walk the whole chain in order; report the first event that does not fit."""
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.seq >= expected_seq).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            break
        for event in rows:
            if event.seq != expected_seq:
                return VerifyReport(False, count, f"event seq {expected_seq} is missing (next stored is {event.seq})", expected_seq)
            if event.prev_hash != prev:
                return VerifyReport(False, count, f"event seq {event.seq} (id {event.id}) does not link to the event before it", event.seq)
            if event_hash(event) != event.hash:
                return VerifyReport(False, count, f"event seq {event.seq} (id {event.id}) was altered: its hash does not match its contents", event.seq)
            prev = event.hash
            last_seq = event.seq
            expected_seq += 1
            count += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != last_seq or head.last_hash != prev):
        return VerifyReport(False, count, f"the newest events are missing: the head records seq {head.seq}, the stored chain ends at {last_seq}", last_seq + 1)
    return VerifyReport(True, count, f"audit trail intact: {count} events")
