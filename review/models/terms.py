"""Word-list terms kept in the database: added by registrars in the web UI,
joined to the list files by the scan engine (review/terms.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from review.timeutil import now


class WordListTerm(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("folded", "category", name="uq_wordlistterm_folded_category"),)

    id: int | None = Field(default=None, primary_key=True)
    term: str = Field(max_length=64)
    folded: str = Field(max_length=64)  # the term as the engine compares it (case, width, 繁/简, noise)
    category: str = Field(max_length=32, index=True)
    severity: str = Field(default="medium", max_length=8)
    enabled: bool = Field(default=True, index=True)
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)


class WordListRevision(SQLModel, table=True):
    """One row, bumped in the transaction of every term change: a worker reads
    this number before each job and reloads the terms only when it moved."""

    id: int = Field(default=1, primary_key=True)
    revision: int = Field(default=0)
