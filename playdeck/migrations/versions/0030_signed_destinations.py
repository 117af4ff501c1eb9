"""signed JSON notification destinations: notification_destinations.secret_ciphertext (the sealed secret
each delivery is signed with; "" for unsigned ones, as every destination made before)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('notification_destinations',
                  sa.Column('secret_ciphertext', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('notification_destinations') as batch:
        batch.drop_column('secret_ciphertext')
