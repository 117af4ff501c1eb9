"""runs.promoted_from_id (the successful run whose commit and parameters a promotion deploys to another
environment) and environments.requires_success_in (the environment of the same project where what is deployed
here must first have succeeded; null: no such rule)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-20 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs and no foreign key, as for rollback_of_id (0019): on SQLite a batch would copy the
    # runs table and drop its events. A promotion whose source run is gone shows no link.
    run_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.add_column('runs', sa.Column('promoted_from_id', run_id, nullable=True))
    # The run page asks which runs were promoted from the one it shows.
    op.create_index('ix_runs_promoted_from_id', 'runs', ['promoted_from_id'])
    op.add_column('environments', sa.Column('requires_success_in', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('environments', schema=None) as batch_op:
        batch_op.drop_column('requires_success_in')
    op.drop_index('ix_runs_promoted_from_id', table_name='runs')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_column('promoted_from_id')
