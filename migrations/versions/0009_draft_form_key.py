"""a new draft remembers the form it came from

Back, then 提交审核 again, sent the new-draft form a second time and made a
second draft. The form carries a key; the draft keeps it, unique per author, so
the second sending finds the first draft instead of making another.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 07:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form_key", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_draft_author_form_key", ["author_id", "form_key"], unique=True)


def downgrade():
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_index("ix_draft_author_form_key")
        batch_op.drop_column("form_key")
