"""Review chains, delegation, deadlines' escalations and notifications."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from review.timeutil import now

# Who acts on a step: the channel's supervising leader, a named user, or
# anyone holding a role within the channel's unit.
STEP_KINDS = {"leader": "分管领导", "user": "指定人员", "role": "单位内角色"}


class ChainStep(SQLModel, table=True):
    """One step of a channel's review chain. A channel without rows has the
    default chain: one step, its supervising leader."""

    __table_args__ = (UniqueConstraint("channel_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channel.id", index=True)
    position: int  # 1, 2, 3 ... in order
    name: str = Field(max_length=32)  # 初审 / 复审 / 终审
    kind: str = Field(max_length=8)  # leader | user | role
    user_id: int | None = Field(default=None, foreign_key="user.id")
    role: str = Field(default="", max_length=16)


class DecisionRecord(SQLModel, table=True):
    """What a decision row does not say: the step's name at the time and, for
    a deputy, whom they acted for ("张三 代 李四")."""

    decision_id: int = Field(foreign_key="decision.id", primary_key=True)
    step_name: str = Field(default="", max_length=32)
    on_behalf_of_id: int | None = Field(default=None, foreign_key="user.id")
    delegation_id: int | None = Field(default=None, foreign_key="delegation.id")


class Delegation(SQLModel, table=True):
    """A reviewer names a deputy for a date range (both days included, China time)."""

    id: int | None = Field(default=None, primary_key=True)
    principal_id: int = Field(foreign_key="user.id", index=True)
    deputy_id: int = Field(foreign_key="user.id", index=True)
    starts_on: date
    ends_on: date
    reason: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=now)
    revoked_at: datetime | None = None


class Escalation(SQLModel, table=True):
    """A version whose deadline passed and whose reviewers were told, once."""

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", index=True)
    version_id: int = Field(foreign_key="draftversion.id", unique=True)
    step: int
    at: datetime = Field(default_factory=now)


class Notification(SQLModel, table=True):
    """One message in a user's in-app notification centre."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=24)  # submitted | approved | rejected | deadline | delegation | retracted
    draft_id: int | None = Field(default=None, foreign_key="draft.id")
    text: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=now)
    read_at: datetime | None = None


class NotificationAddress(SQLModel, table=True):
    """Where a user wants e-mail copies of their notifications (optional)."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    email: str = Field(default="", max_length=254)


class ChannelWebhook(SQLModel, table=True):
    """A channel's robot relay (WeCom / DingTalk): a signed JSON POST per event."""

    channel_id: int = Field(foreign_key="channel.id", primary_key=True)
    url: str = Field(max_length=1000)
    secret: str = Field(max_length=128)
    updated_at: datetime = Field(default_factory=now)


class Delivery(SQLModel, table=True):
    """An e-mail or webhook call owed for an event; sent by a worker job."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)  # email | webhook
    target: str = Field(max_length=1000)  # address or URL
    channel_id: int | None = Field(default=None, foreign_key="channel.id")
    subject: str = Field(default="", max_length=200)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # JSON for webhooks, text for e-mail
    status: str = Field(default="pending", max_length=8)  # pending | sent | failed | skipped
    attempts: int = 0
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=now)
    sent_at: datetime | None = None
