"""Drafts, their immutable versions, scans and flags, decisions and publication."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from review.timeutil import now

STATUS_LABELS = {
    "draft": "草稿",
    "queued": "排队检测",
    "scanning": "检测中",
    "in_review": "待审核",
    "approved": "已通过",
    "rejected": "已退回",
    "published": "已发布",
    "retracted": "已撤稿",
    "withdrawn": "已撤回",
    "scan_failed": "检测失败",
}
# Statuses in which the worker still owes the current version a scan. ("scanning" is
# no longer set: a scan is read, done and stored in one step; rows an older version
# left in it are still picked up.)
AWAITING_SCAN = ("queued", "scanning")

SEVERITY_LABELS = {"high": "高", "medium": "中", "low": "低"}
CONFIDENCE_LABELS = {"high": "确定", "medium": "较可能", "low": "可能误报"}
FIELD_LABELS = {"title": "标题", "body": "正文"}
# Names of the default word-list categories; an organisation's own lists show their file name.
FLAG_CATEGORY_LABELS = {
    "advertising": "广告法极限词",
    "gambling": "赌博",
    "drugs": "毒品",
    "fraud": "诈骗",
    "vulgar": "低俗辱骂",
    "pii": "个人信息",
    "hidden": "隐藏控制字符",
}


class Draft(SQLModel, table=True):
    """The editor's working copy; every submission freezes it into a DraftVersion."""

    __table_args__ = (Index("ix_draft_status_channel", "status", "channel_id"),
                      Index("ix_draft_author_form_key", "author_id", "form_key", unique=True))

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channel.id", index=True)
    author_id: int = Field(foreign_key="user.id", index=True)
    title: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    body_format: str = Field(default="text", max_length=8)  # text | html
    status: str = Field(default="draft", max_length=16)
    urgent: bool = False
    deadline_at: datetime | None = None
    current_version_id: int | None = None
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)
    submitted_at: datetime | None = None
    form_key: str | None = Field(default=None, max_length=32)  # the new-draft form it came from (one draft each)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


class DraftVersion(SQLModel, table=True):
    """One submission, never changed after it is written."""

    __table_args__ = (UniqueConstraint("draft_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", index=True)
    number: int
    title: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))  # as submitted (HTML already sanitised)
    body_format: str = Field(default="text", max_length=8)
    text: str = Field(sa_column=Column(Text, nullable=False))  # the plain text that is scanned and shown
    content_sha256: str = Field(max_length=64)
    created_by_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=now)
    scan_attempts: int = 0  # how often a sweep had to enqueue it again


class ScanResult(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="draftversion.id", unique=True)  # one result per version
    wordlist_version: str = Field(max_length=64)
    flag_count: int = 0
    duration_ms: int = 0
    created_at: datetime = Field(default_factory=now)


class Flag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    scan_result_id: int = Field(foreign_key="scanresult.id", index=True)
    version_id: int = Field(foreign_key="draftversion.id", index=True)
    field: str = Field(default="body", max_length=8)  # title | body
    term: str = Field(max_length=200)
    category: str = Field(max_length=64)
    severity: str = Field(max_length=8)
    confidence: str = Field(max_length=8)
    rule: str = Field(max_length=64)
    start: int
    end: int
    text: str = Field(max_length=400)

    def as_dict(self) -> dict:
        return {
            "field": self.field,
            "term": self.term,
            "category": self.category,
            "severity": self.severity,
            "confidence": self.confidence,
            "rule": self.rule,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }


class Decision(SQLModel, table=True):
    """A reviewer's decision on one exact version (bound to its hash)."""

    __table_args__ = (UniqueConstraint("version_id", "step"),)

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", index=True)
    version_id: int = Field(foreign_key="draftversion.id")
    version_number: int
    content_sha256: str = Field(max_length=64)
    step: int = 1
    decision: str = Field(max_length=8)  # approve | reject
    comment: str = ""
    flags_acknowledged: str = ""  # space-separated flag ids the reviewer ticked as considered
    decided_by_id: int = Field(foreign_key="user.id")
    decided_at: datetime = Field(default_factory=now)


class Publication(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", unique=True)
    version_id: int = Field(foreign_key="draftversion.id")
    content_sha256: str = Field(max_length=64)
    url: str = Field(max_length=1000)
    published_at: datetime
    recorded_by_id: int = Field(foreign_key="user.id")
    recorded_at: datetime = Field(default_factory=now)
    retracted_at: datetime | None = None
    retracted_by_id: int | None = Field(default=None, foreign_key="user.id")
    retract_reason: str = ""
