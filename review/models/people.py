"""People: users with their roles, and API tokens."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from review.timeutil import now

ROLE_LABELS = {
    "editor": "编辑",
    "leader": "分管领导",
    "registrar": "管理员",
    "auditor": "督查",
}
ROLES = tuple(ROLE_LABELS)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(max_length=64)
    password_hash: str
    roles: str = ""  # space-separated role codes; a person may hold several
    unit: str = Field(default="", max_length=128)
    active: bool = True
    created_at: datetime = Field(default_factory=now)

    @property
    def role_set(self) -> set[str]:
        return set(self.roles.split())

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set.intersection(roles))

    @property
    def role_labels(self) -> str:
        return "、".join(ROLE_LABELS[r] for r in ROLES if r in self.role_set)

    # The attributes Flask-Login expects, so the web layer can use User directly.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(default="", max_length=64)
    token_hash: str = Field(unique=True, index=True)  # sha256 of the token; the token itself is never stored
    created_at: datetime = Field(default_factory=now)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
