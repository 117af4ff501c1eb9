"""runs.ref, commit_sha and commit_subject (what a deploy of a git project asked for and the commit it
executes, resolved when it is queued) and rollback_of_id (the run a rollback replaces)

Runs from before this have no ref or commit: their project's source was a directory on the server.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 02:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch: on SQLite a batch copies the runs table, and dropping the old one
    # deletes the events that reference it (ON DELETE CASCADE). rollback_of_id has no foreign key for the
    # same reason (SQLite adds none outside a batch); a rollback whose run is gone shows no link.
    op.add_column('runs', sa.Column('ref', sa.String(length=255), server_default='', nullable=False))
    op.add_column('runs', sa.Column('commit_sha', sa.String(length=64), nullable=True))
    op.add_column('runs', sa.Column('commit_subject', sa.String(length=255), server_default='', nullable=False))
    run_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.add_column('runs', sa.Column('rollback_of_id', run_id, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_column('rollback_of_id')
        batch_op.drop_column('commit_subject')
        batch_op.drop_column('commit_sha')
        batch_op.drop_column('ref')
