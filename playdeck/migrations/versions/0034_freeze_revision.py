"""freeze revision: freeze_revision, one row whose number every change of the freeze windows raises, so the
processes that read the windows keep them until it moves

Revision ID: 0034
Revises: 0033
Create Date: 2027-02-15 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('freeze_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(table, [{'id': 1, 'revision': 0}])


def downgrade() -> None:
    op.drop_table('freeze_revision')
