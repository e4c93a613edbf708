"""Indexes the quarterly report's aggregate queries range over (review/reports.py),
and those of the busiest lists (review/queries.py).

They belong to tables defined elsewhere; declaring them here keeps the
report's needs in one place and in the metadata Alembic compares against."""
from __future__ import annotations

from sqlalchemy import Index

from review.models.drafts import Decision, Draft, DraftVersion, Flag, Publication

REPORT_INDEXES = (
    # Versions submitted in a period (number 1 = a draft's first submission), with their draft.
    Index("ix_draftversion_created_report", DraftVersion.created_at, DraftVersion.number, DraftVersion.draft_id),
    # Decisions in a period: kind, draft and version come from the index alone.
    Index("ix_decision_decided_report", Decision.decided_at, Decision.decision, Decision.draft_id,
          Decision.version_id),
    Index("ix_publication_published_at", Publication.published_at),
    Index("ix_publication_retracted_at", Publication.retracted_at),
    # Flags of a version, covering what the report groups by.
    Index("ix_flag_report", Flag.version_id, Flag.confidence, Flag.category, Flag.severity, Flag.term),
    Index("ix_draft_deadline_at", Draft.deadline_at),
    # The editor's dashboard: own drafts by status (index only) and the newest few.
    Index("ix_draft_author_status", Draft.author_id, Draft.status),
    Index("ix_draft_author_updated", Draft.author_id, Draft.updated_at),
    # The editor's list filtered by status, newest first.
    Index("ix_draft_author_status_updated", Draft.author_id, Draft.status, Draft.updated_at),
    # A reviewer's queue: the drafts in review of their channels, ranked from the index alone
    # (queries._chain_rows), the pending step counted from the decision index. The id is in it
    # for PostgreSQL (SQLite's indexes hold the rowid anyway): index-only, no heap row read.
    Index("ix_draft_review_queue", Draft.status, Draft.channel_id, Draft.urgent, Draft.submitted_at,
          Draft.deadline_at, Draft.author_id, Draft.current_version_id, Draft.id),
    # "My recent decisions" under the queue.
    Index("ix_decision_decider", Decision.decided_by_id, Decision.decided_at),
)
