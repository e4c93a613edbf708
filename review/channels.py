"""The channel registry: create and edit channels, with validation and audit."""
from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from review import audit
from review.errors import NotFound, ValidationError
from review.models import Channel, User
from review.models.channels import CATEGORY_LABELS, FILING_LABELS, PLATFORM_LABELS
from review.timeutil import now
from review.validation import as_int

EDITABLE = (
    "name", "platform", "category", "identifier", "unit", "administrator", "leader_id",
    "filing_authority", "filing_status", "filing_number", "filing_date",
    "last_annual_check", "notes", "urgent_deadline_minutes",
)


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


def create_channel(session: Session, data: dict, actor: User | None) -> Channel:
    values = _clean(session, data)
    channel = Channel(**values)
    session.add(channel)
    session.flush()
    audit.record(session, "channel.created", actor, channel_id=channel.id,
                 name=channel.name, platform=channel.platform, leader_id=channel.leader_id)
    return channel


def update_channel(session: Session, channel: Channel, data: dict, actor: User | None) -> Channel:
    values = _clean(session, data)
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
        audit.record(session, "channel.updated", actor, channel_id=channel.id, changes=changes)
    return channel


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
