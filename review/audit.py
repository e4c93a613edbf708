"""The tamper-evident audit trail.

Every state change appends one event in the same transaction as the change.
Each event's hash covers its own fields and the previous event's hash, so
editing or deleting any stored event breaks the chain from there on;
`AuditHead` remembers the newest seq and hash, so removing the newest events
is caught as well -- unless whoever removed them also rewound the head row.
So, after each commit, the newest seq and hash are also written to a second
place outside the database: a witness file (`instance/audit-head`, only ever
moved forward). `verify` checks that the chain still reaches the witnessed
event and that this event still has the witnessed hash.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import bindparam, event as sa_event, insert, select, update
from sqlalchemy.orm import Session

from review import aftercommit
from review.models import AuditEvent, AuditHead, User
from review.models.audit import GENESIS_HASH
from review.models.channels import CATEGORY_LABELS, FILING_LABELS, PLATFORM_LABELS
from review.models.drafts import FLAG_CATEGORY_LABELS, SEVERITY_LABELS, STATUS_LABELS
from review.models.people import ROLE_LABELS
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
    "scan.started": "开始检测",  # written by earlier versions; kept so old trails read well
    "scan.completed": "检测完成",
    "scan.failed": "检测失败",
    "scan.retried": "重新检测",
    "draft.approved": "审核通过",
    "draft.rejected": "审核退回",
    "draft.published": "登记发布",
    "draft.retracted": "撤稿",
    "draft.withdrawn": "撤回",
    "draft.step_approved": "分步审核通过",
    "draft.escalated": "审核超时提醒",
    "chain.updated": "设置审核链",
    "delegation.created": "委托代审",
    "delegation.revoked": "撤销代审委托",
    "webhook.updated": "设置渠道通知地址",
    "webhook.removed": "删除渠道通知地址",
    "notify.email_set": "设置通知邮箱",
    "term.added": "添加词条",
    "term.disabled": "停用词条",
    "term.enabled": "启用词条",
    "term.severity_changed": "修改词条严重程度",
    "term.imported": "批量导入词条",
}


# How the audit page shows an event's details (the CSV keeps the JSON as recorded).
# Internal ids are left out: the event's draft and channel have columns of their own.
_DETAIL_LABELS = {
    "title": "标题", "version": "版本", "urgent": "加急", "previous_status": "原状态", "comment": "意见",
    "reason": "理由", "step": "步骤", "step_name": "步骤名称", "url": "发布地址", "sha256": "内容指纹",
    "wordlist_version": "词库版本", "flags": "标记数", "high": "高风险标记", "scan_ms": "检测用时（毫秒）",
    "username": "用户名", "roles": "角色", "name": "名称", "password_changed": "修改密码", "active": "启用",
    "term": "词条", "category": "类别", "severity": "严重程度", "added": "新增", "skipped": "跳过",
    "filename": "文件", "changes": "变更", "steps": "审核链", "deputy": "代审人", "starts_on": "起始日期",
    "ends_on": "截止日期", "email": "邮箱", "platform": "平台", "filing_status": "备案状态",
    "old": "原", "new": "新", "notified": "已通知", "deadline": "审核时限", "channel": "渠道", "draft": "稿件",
    "note": "说明",
    # a channel's fields (channel.updated's "changes")
    "identifier": "账号/网址", "unit": "主办单位", "administrator": "管理员", "leader_id": "分管领导",
    "filing_authority": "备案机关", "filing_number": "备案编号", "filing_date": "备案日期",
    "last_annual_check": "最近年检", "notes": "备注", "purpose": "用途及发布范围",
    "urgent_deadline_minutes": "加急审核时限（分钟）",
}
_ORDER = {key: i for i, key in enumerate(_DETAIL_LABELS)}  # shown in the order of the labels above
_SHORTENED = {"sha256", "wordlist_version"}  # long hex digests: the first 12 characters on the page


# Values recorded as codes, by key; and by field inside a channel's "changes".
_VALUE_LABELS = {"previous_status": STATUS_LABELS, "category": FLAG_CATEGORY_LABELS, "severity": SEVERITY_LABELS,
                 "roles": ROLE_LABELS, "platform": PLATFORM_LABELS, "filing_status": FILING_LABELS}
_CHANNEL_VALUE_LABELS = {"platform": PLATFORM_LABELS, "filing_status": FILING_LABELS, "category": CATEGORY_LABELS}


def describe(detail: str) -> str:
    """An event's details in words: 标题：…；版本：2 (for the audit page)."""
    try:
        data = json.loads(detail or "{}")
    except ValueError:
        return detail
    if not isinstance(data, dict):
        return detail
    parts = []
    for key, value in sorted(data.items(), key=lambda item: _ORDER.get(item[0], len(_ORDER))):
        if key.endswith("_id") or value is None or value == "" or value == [] or value == {}:
            continue
        parts.append(f"{_DETAIL_LABELS.get(key, key)}：{_in_words(key, value)}")
    return "；".join(parts)


def _in_words(key: str, value) -> str:
    named = _VALUE_LABELS.get(key, {})
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list) and key == "steps":
        return "→".join(str(step.get("name") or "") if isinstance(step, dict) else str(step) for step in value)
    if isinstance(value, list):
        return "、".join(str(named.get(v, v)) for v in value)
    if isinstance(value, dict):  # changes: {field: [old, new]}
        return "，".join(f"{_DETAIL_LABELS.get(field, field)} {_pair(field, change)}"
                        for field, change in value.items())  # fields of a channel
    if key in _SHORTENED and isinstance(value, str) and len(value) > 12:
        return value[:12] + "…"
    return str(named.get(value, value))


def _pair(field: str, change) -> str:
    """A channel field's change, ``[old, new]``, in words (a user as #id: the event keeps ids, not names)."""
    if not (isinstance(change, list) and len(change) == 2):
        return str(change)
    named = _CHANNEL_VALUE_LABELS.get(field, {})
    old, new = ("（空）" if v in (None, "") else f"#{v}" if field.endswith("_id") else named.get(v, v)
                for v in change)
    return f"{old} → {new}"


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


# Core statements built once: an audit append is on every write path, and the
# ORM's per-statement work would cost more than the round trips themselves.
_HEAD = AuditHead.__table__
_EVENTS = AuditEvent.__table__
_TAKE_HEAD = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + bindparam("count"))
              .returning(_HEAD.c.seq, _HEAD.c.last_hash))
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=bindparam("new_hash"))
_FIRST_HEAD = insert(_HEAD)
_APPEND = insert(_EVENTS)
_PENDING = "audit_pending"


def record(
    session: Session,
    action: str,
    actor: User | None,
    *,
    draft_id: int | None = None,
    channel_id: int | None = None,
    **detail,
) -> None:
    """Add one event to the transaction that makes the change. The events are
    appended to the chain when the transaction commits, or dropped with it."""
    session.info.setdefault(_PENDING, []).append(dict(
        actor_id=actor.id if actor else None,
        actor_name=actor.display_name if actor else "系统",
        action=action,
        draft_id=draft_id,
        channel_id=channel_id,
        detail=_canonical(detail),
    ))


@sa_event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    """Append the transaction's events as its last statements. Appending takes
    the head row's lock (on PostgreSQL a row lock, on SQLite the database write
    lock), so appenders queue and the chain never forks; taking it last keeps
    the queue short: only the commit itself happens under it."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    conn = session.connection()
    head_row = conn.execute(_TAKE_HEAD, {"count": len(pending)}).first()
    if head_row is None:
        conn.execute(_FIRST_HEAD, {"id": 1, "seq": len(pending), "last_hash": GENESIS_HASH})
        last_seq, prev = len(pending), GENESIS_HASH
    else:
        last_seq, prev = head_row
    at = now()
    rows = []
    for seq, fields in enumerate(pending, start=last_seq - len(pending) + 1):
        row = {"seq": seq, "at": at, "prev_hash": prev, **fields}
        row["hash"] = prev = event_hash(SimpleNamespace(**row))  # not an AuditEvent: building one costs more than the hash
        rows.append(row)
    conn.execute(_APPEND, rows)
    conn.execute(_MOVE_HEAD, {"new_hash": prev})
    aftercommit.defer(session, "audit_head", (last_seq, prev))


@sa_event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


# ---------------------------------------------------------------- the witness

WITNESS_FILE = "audit-head"


def read_witness(path: Path) -> tuple[int, str] | None:
    try:
        text = Path(path).read_text().strip()
    except FileNotFoundError:
        return None
    seq, _, digest = text.partition(" ")
    return (int(seq), digest) if seq.isdigit() and len(digest) == 64 else (0, "")


def write_witness(path: Path, heads) -> None:
    """Move the witness forward to the newest of `heads` ((seq, hash) pairs);
    never back (processes commit in any order). Called after commit."""
    seq, digest = max(heads)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        current = fh.read().strip().partition(" ")[0]
        if current.isdigit() and int(current) >= seq:
            return
        fh.seek(0)
        fh.write(f"{seq} {digest}\n")  # never shorter than what it overwrites: seq only grows
        # No fsync: a witness that lags after a crash only ever trails the
        # chain, which verify accepts; one that runs ahead is what it catches.


def seal(session: Session, path: Path) -> VerifyReport:
    """Write the current head to the witness after checking the chain (first use, or after a restore)."""
    report = verify(session)
    if report.ok:
        head = session.get(AuditHead, 1)
        if head is not None and head.seq:
            Path(path).unlink(missing_ok=True)
            write_witness(path, [(head.seq, head.last_hash)])
    return report


@dataclass
class VerifyReport:
    ok: bool
    count: int
    message: str
    bad_seq: int | None = None


def verify(session: Session, batch: int = 5000, witness: Path | None = None) -> VerifyReport:
    """Walk the whole chain in order; report the first event that does not fit.
    With `witness`, also check the chain against the head written there."""
    witnessed = read_witness(witness) if witness is not None else None
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    last_seq = 0
    hash_at_witness = None
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
            if witnessed and event.seq == witnessed[0]:
                hash_at_witness = event.hash
            expected_seq += 1
            count += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != last_seq or head.last_hash != prev):
        return VerifyReport(False, count, f"the newest events are missing: the head records seq {head.seq}, the stored chain ends at {last_seq}", last_seq + 1)
    if witness is not None:
        if witnessed is None:
            if count:
                return VerifyReport(False, count, f"the witness file {witness} is missing; if the chain is known to be good, "
                                                  "run `flask audit seal` to write it again", None)
        elif witnessed[0] > last_seq:
            return VerifyReport(False, count, f"the newest events were removed: the witness records seq {witnessed[0]}, "
                                              f"the stored chain ends at {last_seq}", last_seq + 1)
        elif witnessed[0] and hash_at_witness != witnessed[1]:
            return VerifyReport(False, count, f"event seq {witnessed[0]} differs from the witnessed one: the chain was rewritten",
                                witnessed[0])
    return VerifyReport(True, count, f"audit trail intact: {count} events")
