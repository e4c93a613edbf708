"""The filing history of each registered account: one row per lifecycle step."""
from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from review.timeutil import now


class FilingEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channel.id", index=True)
    effective_on: date  # the day it took effect
    from_status: str = Field(default="", max_length=16)
    to_status: str = Field(max_length=16)
    filing_number: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=500)  # why: "分管领导变更" and the like
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=now)
