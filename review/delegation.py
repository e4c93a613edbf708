"""Delegation: a reviewer names a deputy for a date range. The deputy's
decisions record both names ("张三 代 李四")."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from review import audit, notifications
from review.errors import Conflict, Forbidden, NotFound, ValidationError
from review.models import Delegation, User
from review.timeutil import now, to_local
from review.validation import as_int

MAX_DAYS = 366


def today_local(at: datetime | None = None) -> date:
    return to_local(at or now()).date()


# In force on the day bound as :day.
_IN_FORCE = (Delegation.revoked_at.is_(None), Delegation.starts_on <= bindparam("day"),
             Delegation.ends_on >= bindparam("day"))
# Built once: every review queue and draft page asks (review/chains.py).
_ACTIVE_FOR_DEPUTY = (select(Delegation, User).join(User, User.id == Delegation.principal_id)
                      .where(Delegation.deputy_id == bindparam("deputy_id"), *_IN_FORCE, User.active.is_(True)))
_PRINCIPAL = aliased(User)


def stands_in_sql():
    """SQL, correlated to the User row of the enclosing select: would active_for_deputy find a
    grant for this user on :day? (The signed-in user's query asks, review/web/auth.py.)"""
    return exists().where(Delegation.deputy_id == User.id, *_IN_FORCE, _PRINCIPAL.id == Delegation.principal_id,
                          _PRINCIPAL.active.is_(True))


def active_for_deputy(session: Session, deputy: User, at: datetime) -> list[tuple[Delegation, User]]:
    """Grants in force for this deputy at `at`, with their principals."""
    rows = session.execute(_ACTIVE_FOR_DEPUTY, {"deputy_id": deputy.id, "day": today_local(at)}).all()
    return [(d, u) for d, u in rows]


def for_user(session: Session, user: User) -> list[tuple[Delegation, User, User]]:
    """Grants the user gave or received, newest first, with (principal, deputy)."""
    rows = session.execute(
        select(Delegation).where((Delegation.principal_id == user.id) | (Delegation.deputy_id == user.id))
        .order_by(Delegation.created_at.desc()).limit(100)
    ).scalars().all()
    ids = {d.principal_id for d in rows} | {d.deputy_id for d in rows}
    people = {u.id: u for u in session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    return [(d, people[d.principal_id], people[d.deputy_id]) for d in rows]


def _parse_day(value, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError("日期格式应为 YYYY-MM-DD", field=field) from None


def create(session: Session, principal: User, deputy_id, starts_on, ends_on, reason: str = "") -> Delegation:
    if not principal.has_role("leader"):
        raise Forbidden("只有分管领导可以指定代审人")
    key = as_int(deputy_id)
    deputy = session.get(User, key) if key is not None else None
    if deputy is None or not deputy.active:
        raise ValidationError("请选择一位在用的代审人", field="deputy_id")
    if not deputy.has_role("leader", "editor"):
        # Auditors stay read-only and registrars keep the registry: neither may review by proxy.
        raise ValidationError("代审人须为分管领导或编辑", field="deputy_id")
    if deputy.id == principal.id:
        raise ValidationError("不能指定自己为代审人", field="deputy_id")
    start, end = _parse_day(starts_on, "starts_on"), _parse_day(ends_on, "ends_on")
    if end < start:
        raise ValidationError("结束日期不能早于开始日期", field="ends_on")
    if end < today_local():
        raise ValidationError("结束日期已经过去", field="ends_on")
    if end - start > timedelta(days=MAX_DAYS):
        raise ValidationError("委托期限不能超过一年", field="ends_on")
    reason = (reason or "").strip()[:200]
    grant = Delegation(principal_id=principal.id, deputy_id=deputy.id, starts_on=start, ends_on=end, reason=reason)
    session.add(grant)
    session.flush()
    audit.record(session, "delegation.created", principal, deputy_id=deputy.id, deputy=deputy.display_name,
                 starts_on=start.isoformat(), ends_on=end.isoformat(), reason=reason)
    span = f"{start.isoformat()} 至 {end.isoformat()}"
    notifications.notify(session, [deputy], "delegation",
                         f"{principal.display_name} 委托您在 {span} 代为审核稿件")
    return grant


def revoke(session: Session, actor: User, delegation_id) -> Delegation:
    key = as_int(delegation_id)
    grant = session.get(Delegation, key) if key is not None else None
    if grant is None:
        raise NotFound("委托不存在")
    if grant.principal_id != actor.id:
        raise Forbidden("只能撤销自己发出的委托")
    if grant.revoked_at is not None:
        raise Conflict("该委托已撤销")
    grant.revoked_at = now()
    session.add(grant)
    deputy = session.get(User, grant.deputy_id)
    audit.record(session, "delegation.revoked", actor, delegation_id=grant.id, deputy_id=grant.deputy_id)
    notifications.notify(session, [deputy], "delegation", f"{actor.display_name} 已撤销对您的代审委托")
    return grant


def deputies_of(session: Session, principals, at: datetime) -> list[User]:
    """Deputies standing in for any of these people at `at`."""
    ids = [p.id for p in principals if p is not None]
    if not ids:
        return []
    day = today_local(at)
    return list(session.execute(
        select(User).join(Delegation, Delegation.deputy_id == User.id)
        .where(Delegation.principal_id.in_(ids), Delegation.revoked_at.is_(None),
               Delegation.starts_on <= day, Delegation.ends_on >= day, User.active.is_(True))
    ).scalars().unique())
