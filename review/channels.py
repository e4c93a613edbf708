"""The channel registry (新媒体登记备案): create and edit accounts, their
filing lifecycle and its history, reminders. Validated and audited.

Lifecycle: 未备案 → 备案中 → 已备案; 暂停; 注销. Changing the supervising
leader or the administrator of a filed account makes it 变更待备案, to be
refiled within REFILING_DAYS."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, func, or_
from sqlmodel import Session, select

from review import audit
from review.errors import NotFound, ValidationError
from review.models import Channel, FilingEvent, User
from review.models.channels import (ANNUAL_CHECK_DAYS, CATEGORY_LABELS, FILING_LABELS, PLATFORM_LABELS,
                                    REFILING_DAYS, local_today)
from review.timeutil import now
from review.validation import as_int

EDITABLE = (
    "name", "platform", "category", "identifier", "unit", "administrator", "leader_id",
    "filing_authority", "filing_status", "filing_number", "filing_date",
    "last_annual_check", "purpose", "notes", "urgent_deadline_minutes",
)
# Where each filing status may go next (an unchanged status is always allowed).
TRANSITIONS = {
    "unfiled": {"filing", "suspended", "closed"},
    "filing": {"unfiled", "filed", "suspended", "closed"},
    "filed": {"refiling", "suspended", "closed"},
    "refiling": {"filed", "suspended", "closed"},
    "suspended": {"unfiled", "filing", "filed", "closed"},
    "closed": set(),
}
# Fields whose change on a filed account must be filed again.
REFILE_FIELDS = {"leader_id": "分管领导变更", "administrator": "管理员变更"}


def _parse_date(value, field: str, label: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{label}格式应为 YYYY-MM-DD", field=field) from None


def _clean(session: Session, data: dict) -> dict:
    """Validate a mapping of channel fields; return typed values."""
    out = {}
    name = str(data.get("name", "")).strip()
    if not name:
        raise ValidationError("渠道名称不能为空", field="name")
    if len(name) > 128:
        raise ValidationError("渠道名称不能超过128字", field="name")
    out["name"] = name
    platform = str(data.get("platform", "")).strip()
    if platform not in PLATFORM_LABELS:
        raise ValidationError("请选择有效的平台类型", field="platform")
    out["platform"] = platform
    category = str(data.get("category") or "government").strip()
    if category not in CATEGORY_LABELS:
        raise ValidationError("请选择有效的类别（政务/社会/商业）", field="category")
    out["category"] = category
    filing = str(data.get("filing_status") or "unfiled").strip()
    if filing not in FILING_LABELS:
        raise ValidationError("请选择有效的备案状态", field="filing_status")
    out["filing_status"] = filing
    leader_id = as_int(data.get("leader_id"))
    leader = session.get(User, leader_id) if leader_id else None
    if leader is None or not leader.has_role("leader") or not leader.active:
        raise ValidationError("请选择一位在职的分管领导", field="leader_id")
    out["leader_id"] = leader.id
    for field, limit in (("identifier", 256), ("unit", 128), ("administrator", 64),
                         ("filing_authority", 128), ("filing_number", 64)):
        value = str(data.get(field) or "").strip()
        if len(value) > limit:
            raise ValidationError(f"字段过长（最多{limit}字）", field=field)
        out[field] = value
    out["notes"] = str(data.get("notes") or "").strip()[:2000]
    purpose = str(data.get("purpose") or "").strip()
    if len(purpose) > 2000:
        raise ValidationError("用途及发布范围不能超过2000字", field="purpose")
    out["purpose"] = purpose
    out["filing_date"] = _parse_date(data.get("filing_date"), "filing_date", "备案日期")
    out["last_annual_check"] = _parse_date(data.get("last_annual_check"), "last_annual_check", "年检日期")
    try:
        minutes = int(data.get("urgent_deadline_minutes") or 30)
    except (TypeError, ValueError):
        raise ValidationError("紧急审核时限应为分钟数", field="urgent_deadline_minutes") from None
    if not 1 <= minutes <= 24 * 60:
        raise ValidationError("紧急审核时限应在1到1440分钟之间", field="urgent_deadline_minutes")
    out["urgent_deadline_minutes"] = minutes
    return out


def _history(session: Session, channel: Channel, old: str, new: str, today: date, actor: User | None,
             note: str = "") -> None:
    session.add(FilingEvent(channel_id=channel.id, effective_on=today, from_status=old, to_status=new,
                            filing_number=channel.filing_number, note=note[:500],
                            actor_id=actor.id if actor else None))


def create_channel(session: Session, data: dict, actor: User | None) -> Channel:
    values = _clean(session, data)
    today = local_today()
    if values["filing_status"] == "filed" and values["filing_date"] is None:
        values["filing_date"] = today
    if values["filing_status"] == "refiling":
        values["refiling_due"] = today + timedelta(days=REFILING_DAYS)
    channel = Channel(**values, status_since=today)
    session.add(channel)
    session.flush()
    _history(session, channel, "", channel.filing_status, today, actor, "登记")
    audit.record(session, "channel.created", actor, channel_id=channel.id,
                 name=channel.name, platform=channel.platform, leader_id=channel.leader_id,
                 filing_status=channel.filing_status)
    return channel


def _lifecycle(channel: Channel, values: dict, today: date) -> str:
    """Apply the lifecycle rules to the cleaned values in place; return why the status changed."""
    old, new = channel.filing_status, values["filing_status"]
    if new != old and new not in TRANSITIONS[old]:
        raise ValidationError(f"备案状态不能从“{FILING_LABELS[old]}”直接改为“{FILING_LABELS[new]}”",
                              field="filing_status")
    reasons = [label for field, label in REFILE_FIELDS.items() if values[field] != getattr(channel, field)]
    note = ""
    if old in ("filed", "refiling") and new in ("filed", "refiling") and reasons:
        new = "refiling"
        note = "、".join(reasons)
    if new == "refiling":
        keep = old == "refiling" and channel.refiling_due  # a second change does not move the deadline
        values["refiling_due"] = channel.refiling_due if keep else today + timedelta(days=REFILING_DAYS)
        note = note or "标记为变更待备案"
    else:
        values["refiling_due"] = None
    if new == "filed" and old != "filed" and values["filing_date"] in (None, channel.filing_date):
        values["filing_date"] = today
        note = "变更备案完成" if old == "refiling" else note
    values["filing_status"] = new
    if new != old:
        values["status_since"] = today
    return note


def update_channel(session: Session, channel: Channel, data: dict, actor: User | None) -> Channel:
    values = _clean(session, data)
    today = local_today()
    old_status = channel.filing_status
    note = _lifecycle(channel, values, today)
    changes = {}
    for field, value in values.items():
        old = getattr(channel, field)
        if old != value:
            changes[field] = [str(old) if old is not None else None, str(value) if value is not None else None]
            setattr(channel, field, value)
    if changes:
        channel.updated_at = now()
        session.add(channel)
        session.flush()
        if channel.filing_status != old_status:
            _history(session, channel, old_status, channel.filing_status, today, actor, note)
        audit.record(session, "channel.updated", actor, channel_id=channel.id, changes=changes,
                     **({"note": note} if note else {}))
    return channel


def filing_history(session: Session, channel_id: int) -> list[FilingEvent]:
    return list(session.exec(select(FilingEvent).where(FilingEvent.channel_id == channel_id)
                             .order_by(FilingEvent.at, FilingEvent.id)))


def same_unit_platform(session: Session, channel: Channel) -> list[Channel]:
    """Other open accounts of the same unit on the same platform (one is the rule: warn, not refuse)."""
    if not channel.unit:
        return []
    return list(session.exec(select(Channel).where(
        Channel.unit == channel.unit, Channel.platform == channel.platform, Channel.id != channel.id,
        Channel.filing_status != "closed").order_by(Channel.name)))


def needs_reminder(today: date):
    """SQL condition: unfiled, refiling overdue, or annual check older than 12 months."""
    checked = func.coalesce(Channel.last_annual_check, Channel.filing_date)
    return or_(
        Channel.filing_status.in_(("unfiled", "filing")),
        and_(Channel.filing_status == "refiling", Channel.refiling_due < today),
        and_(Channel.filing_status.in_(("filed", "refiling")),
             or_(checked.is_(None), checked < today - timedelta(days=ANNUAL_CHECK_DAYS))),
    )


def reminder_channels(session: Session, channel_ids=None, today: date | None = None) -> list[Channel]:
    today = today or local_today()
    stmt = select(Channel).where(needs_reminder(today)).order_by(Channel.name)
    if channel_ids is not None:
        stmt = stmt.where(Channel.id.in_(list(channel_ids)))
    return list(session.exec(stmt))


def visible_channels(session: Session, user: User) -> list[Channel]:
    """The registry as a user may read it: registrars and auditors all of it, leaders their own channels."""
    stmt = select(Channel).order_by(Channel.name)
    if not user.has_role("registrar", "auditor"):
        if not user.has_role("leader"):
            return []
        stmt = stmt.where(Channel.leader_id == user.id)
    return list(session.exec(stmt))


def can_read(user: User, channel: Channel) -> bool:
    return user.has_role("registrar", "auditor") or (user.has_role("leader") and channel.leader_id == user.id)


def get_channel(session: Session, channel_id) -> Channel:
    key = as_int(channel_id)
    channel = session.get(Channel, key) if key is not None else None
    if channel is None:
        raise NotFound("渠道不存在", field="channel_id")
    return channel


def list_channels(session: Session) -> list[Channel]:
    return list(session.exec(select(Channel).order_by(Channel.name)))


def leaders(session: Session) -> list[User]:
    return [u for u in session.exec(select(User).where(User.active == True).order_by(User.display_name))  # noqa: E712
            if u.has_role("leader")]
