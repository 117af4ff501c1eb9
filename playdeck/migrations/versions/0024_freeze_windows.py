"""freeze windows: freeze_windows (weekly, yearly or ad hoc, per environment or global) and
runs.freeze_override (a release manager's reason for deploying inside one)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-11 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def upgrade() -> None:
    op.create_table('freeze_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('start_spec', sa.String(length=40), nullable=False),
    sa.Column('end_spec', sa.String(length=40), nullable=False),
    sa.Column('starts_at', Timestamp, nullable=True),
    sa.Column('ends_at', Timestamp, nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    # A plain ADD COLUMN, not a batch: on SQLite a batch copies the runs table (see 0020).
    op.add_column('runs', sa.Column('freeze_override', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('freeze_override')
    op.drop_table('freeze_windows')
