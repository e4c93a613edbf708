"""registry: filing history, purpose and refiling fields, the quarterly report's indexes

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-27 21:14:53.251450
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('filingevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('from_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('filing_number', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['channel_id'], ['channel.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('filingevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filingevent_channel_id'), ['channel_id'], unique=False)

    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('status_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('refiling_due', sa.Date(), nullable=True))

    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.create_index('ix_decision_decided_report', ['decided_at', 'decision', 'draft_id', 'version_id'], unique=False)

    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.create_index('ix_draft_deadline_at', ['deadline_at'], unique=False)
        batch_op.create_index('ix_draft_author_status', ['author_id', 'status'], unique=False)
        batch_op.create_index('ix_draft_author_updated', ['author_id', 'updated_at'], unique=False)

    with op.batch_alter_table('draftversion', schema=None) as batch_op:
        batch_op.create_index('ix_draftversion_created_report', ['created_at', 'number', 'draft_id'], unique=False)

    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.create_index('ix_flag_report', ['version_id', 'confidence', 'category', 'severity', 'term'], unique=False)

    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.create_index('ix_publication_published_at', ['published_at'], unique=False)
        batch_op.create_index('ix_publication_retracted_at', ['retracted_at'], unique=False)


def downgrade():
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.drop_index('ix_publication_retracted_at')
        batch_op.drop_index('ix_publication_published_at')

    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_index('ix_flag_report')

    with op.batch_alter_table('draftversion', schema=None) as batch_op:
        batch_op.drop_index('ix_draftversion_created_report')

    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.drop_index('ix_draft_author_updated')
        batch_op.drop_index('ix_draft_author_status')
        batch_op.drop_index('ix_draft_deadline_at')

    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_index('ix_decision_decided_report')

    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.drop_column('refiling_due')
        batch_op.drop_column('status_since')
        batch_op.drop_column('purpose')

    with op.batch_alter_table('filingevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_filingevent_channel_id'))

    op.drop_table('filingevent')
