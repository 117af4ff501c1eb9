"""environments.queue (route an environment's deploys to the workers that can reach it) and
environments.known_hosts (SSH host keys checked per environment)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 10:30:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('environments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('known_hosts', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('environments', schema=None) as batch_op:
        batch_op.drop_column('known_hosts')
        batch_op.drop_column('queue')
