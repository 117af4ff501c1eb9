"""runs.not_before: a run whose message the broker holds until then (spaced zone regenerations); runs by
environment and state (is a run of this zone queued?)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 07:05:00.000000
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_before', sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql'), nullable=True))
        # The new index first: MariaDB keeps an index on environment_id for its foreign key.
        batch_op.create_index('ix_runs_environment_state', ['environment_id', 'state'], unique=False)
        batch_op.drop_index('ix_runs_environment')


def downgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index('ix_runs_environment', ['environment_id'], unique=False)
        batch_op.drop_index('ix_runs_environment_state')
        batch_op.drop_column('not_before')
