"""runs: index on requested_by, for the runs list filtered by who asked ("my runs")

Without it the filter walks the whole runs table newest-first for a requester with few runs
(~170 ms at 100,000 runs, measured by ``python -m bench scale``); InnoDB appends the primary key to
the index, so "newest first" is read from it in order.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 11:00:00.000000
"""

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_runs_requested_by', 'runs', ['requested_by'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_runs_requested_by', table_name='runs')
