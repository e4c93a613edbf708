"""Users, passwords and API tokens."""
from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from review import audit
from review.errors import NotFound, ValidationError
from review.models import ApiToken, User
from review.models.people import ROLE_LABELS
from review.timeutil import now

_hasher = PasswordHasher()  # argon2id: memory-hard, salted
# Verified against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("imprimatur-not-a-password")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    stored = user.password_hash if user else _DUMMY_HASH
    try:
        ok = _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    return ok and user is not None and user.active


def _validate_roles(roles) -> list[str]:
    roles = [r for r in dict.fromkeys(roles) if r]
    unknown = [r for r in roles if r not in ROLE_LABELS]
    if unknown:
        raise ValidationError(f"未知角色：{'、'.join(unknown)}", field="roles")
    if not roles:
        raise ValidationError("至少选择一个角色", field="roles")
    return roles


def create_user(session: Session, username: str, password: str, roles, *,
                display_name: str = "", unit: str = "", actor: User | None = None) -> User:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise ValidationError("用户名须为2-64位字母、数字、下划线、点或连字符", field="username")
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"密码至少{MIN_PASSWORD}位", field="password")
    roles = _validate_roles(roles)
    if session.exec(select(User).where(User.username == username)).first():
        raise ValidationError(f"用户名“{username}”已存在", field="username")
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:64],
        password_hash=hash_password(password),
        roles=" ".join(roles),
        unit=unit.strip()[:128],
    )
    session.add(user)
    session.flush()
    audit.record(session, "user.created", actor, username=username, roles=roles)
    return user


def update_user(session: Session, user: User, *, display_name: str, roles, unit: str,
                active: bool, password: str = "", actor: User | None = None) -> User:
    roles = _validate_roles(roles)
    if password and len(password) < MIN_PASSWORD:
        raise ValidationError(f"密码至少{MIN_PASSWORD}位", field="password")
    if not display_name.strip():
        raise ValidationError("姓名不能为空", field="display_name")
    user.display_name = display_name.strip()[:64]
    user.roles = " ".join(roles)
    user.unit = unit.strip()[:128]
    user.active = active
    if password:
        user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    audit.record(session, "user.updated", actor, username=user.username, roles=roles,
                 active=active, password_changed=bool(password))
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == (username or "").strip())).first()


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = find_user(session, username)
    return user if check_password(user, password or "") else None


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, username: str, name: str = "", actor: User | None = None) -> str:
    """Return a new bearer token; only its hash is stored."""
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"没有用户“{username}”")
    token = "imp_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name[:64], token_hash=_token_digest(token)))
    session.flush()
    audit.record(session, "token.created", actor or user, username=user.username, name=name)
    return token


def user_for_token(session: Session, token: str) -> User | None:
    if not token:
        return None
    found = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                            .where(ApiToken.token_hash == _token_digest(token))).first()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or not user.active:
        return None
    # Note use at most once a minute: a write on every request would make each API call a transaction.
    at = now()
    if row.last_used_at is None or (at - row.last_used_at).total_seconds() > 60:
        row.last_used_at = at
        session.add(row)
    return user
