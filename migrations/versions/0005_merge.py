"""merge the word-list terms, registry and review-chain branches

Revision ID: 0005
Revises: 0002, 0003, 0004
Create Date: 2026-11-27 22:10:00
"""

revision = "0005"
down_revision = ("0002", "0003", "0004")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
