"""schedules: deploys on a cron expression in a time zone or once at a time; schedule_fires: each fire time
decided once (unique per schedule and time), with its run or the reason it ran none

Revision ID: 0025
Revises: 0024
Create Date: 2027-01-20 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=100), nullable=False),
    sa.Column('cron', sa.String(length=100), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('at', TIMESTAMP, nullable=True),
    sa.Column('version', sa.String(length=128), nullable=False),
    sa.Column('ref', sa.String(length=255), nullable=False),
    sa.Column('extra_vars_json', sa.Text(), nullable=False),
    sa.Column('host_limit', sa.String(length=512), nullable=False),
    sa.Column('tags_json', sa.Text(), nullable=False),
    sa.Column('check_mode', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('only_new_commits', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('last_commit_sha', sa.String(length=64), nullable=True),
    sa.Column('missed_policy', sa.String(length=10), server_default='run_once', nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('paused_reason', sa.Text(), nullable=False),
    sa.Column('next_fire_at', TIMESTAMP, nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_schedules_enabled_next', 'schedules', ['enabled', 'next_fire_at'])
    op.create_index('ix_schedules_project', 'schedules', ['project_id'])
    op.create_table('schedule_fires',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('fire_time', TIMESTAMP, nullable=False),
    sa.Column('fired_at', TIMESTAMP, nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('run_id', BIG_ID, nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name='fk_schedule_fires_run_id_runs', ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule_id', 'fire_time', name='uq_schedule_fires_schedule_time')
    )


def downgrade() -> None:
    # Dropping the tables drops their indexes (MariaDB refuses to drop ix_schedules_project alone while the
    # project foreign key needs it).
    op.drop_table('schedule_fires')
    op.drop_table('schedules')
