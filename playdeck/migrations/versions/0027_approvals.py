"""approvals: environments.approvals_required, approver_roles_json, approver_users_json,
approval_timeout_seconds, rollback_skips_approval; runs.approvals_required, approvals_given,
approval_expires_at, approved_at and an index on (state, approval_expires_at); runs.state widened to 20
characters ("awaiting_approval" has 17); table run_approvals (one decision per person and run)

Existing environments require no approval (0) and existing runs needed none.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-12 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
ENVIRONMENT_COLUMNS = ('rollback_skips_approval', 'approval_timeout_seconds', 'approver_users_json',
                       'approver_roles_json', 'approvals_required')
RUN_COLUMNS = ('approved_at', 'approval_expires_at', 'approvals_given', 'approvals_required')


def _widen_state(length: int) -> None:
    was = 16 if length == 20 else 20
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        op.alter_column('runs', 'state', existing_type=sa.String(length=was), type_=sa.String(length=length),
                        existing_nullable=False)
        return
    # SQLite stores any length in a VARCHAR: only the declared type changes. A batch would copy the runs
    # table and cascade-delete its events (see 0019), so the declaration is edited in place, the way
    # sqlite.org/lang_altertable.html describes for changes that leave the stored rows as they are.
    version = bind.exec_driver_sql('PRAGMA schema_version').scalar()
    bind.exec_driver_sql('PRAGMA writable_schema=ON')
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = replace(sql, 'state VARCHAR(%d)', 'state VARCHAR(%d)') "
        "WHERE type = 'table' AND name = 'runs'" % (was, length)
    )
    bind.exec_driver_sql(f'PRAGMA schema_version={version + 1}')
    bind.exec_driver_sql('PRAGMA writable_schema=OFF')


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch: see 0019 and 0020.
    op.add_column('environments', sa.Column('approvals_required', sa.Integer(), server_default='0', nullable=False))
    op.add_column('environments', sa.Column('approver_roles_json', sa.Text(), server_default='[]', nullable=False))
    op.add_column('environments', sa.Column('approver_users_json', sa.Text(), server_default='[]', nullable=False))
    op.add_column('environments', sa.Column('approval_timeout_seconds', sa.Integer(), server_default='86400',
                                            nullable=False))
    op.add_column('environments', sa.Column('rollback_skips_approval', sa.Boolean(), server_default=sa.text('0'),
                                            nullable=False))
    op.add_column('runs', sa.Column('approvals_required', sa.Integer(), server_default='0', nullable=False))
    op.add_column('runs', sa.Column('approvals_given', sa.Integer(), server_default='0', nullable=False))
    op.add_column('runs', sa.Column('approval_expires_at', Timestamp, nullable=True))
    op.add_column('runs', sa.Column('approved_at', Timestamp, nullable=True))
    _widen_state(20)
    op.create_index('ix_runs_state_approval_expires_at', 'runs', ['state', 'approval_expires_at'], unique=False)
    op.create_table('run_approvals',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('run_id', BIG_ID, nullable=False),
    sa.Column('user_name', sa.String(length=100), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'user_name', name='uq_run_approvals_run_user')
    )


def downgrade() -> None:
    op.drop_table('run_approvals')
    op.drop_index('ix_runs_state_approval_expires_at', table_name='runs')
    _widen_state(16)
    with op.batch_alter_table('runs') as batch:
        for column in RUN_COLUMNS:
            batch.drop_column(column)
    with op.batch_alter_table('environments') as batch:
        for column in ENVIRONMENT_COLUMNS:
            batch.drop_column(column)
