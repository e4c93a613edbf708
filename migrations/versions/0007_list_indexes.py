"""indexes for the review queue, the editor's list by status and a reviewer's recent decisions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 23:45:00
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.create_index("ix_draft_author_status_updated", ["author_id", "status", "updated_at"], unique=False)
        batch_op.create_index("ix_draft_review_queue", ["status", "channel_id", "urgent", "submitted_at",
                                                        "deadline_at", "author_id", "current_version_id"],
                              unique=False)
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index("ix_decision_decider", ["decided_by_id", "decided_at"], unique=False)


def downgrade():
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_decider")
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_index("ix_draft_review_queue")
        batch_op.drop_index("ix_draft_author_status_updated")
