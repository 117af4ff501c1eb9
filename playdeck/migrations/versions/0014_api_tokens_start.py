"""api_tokens: the token's first characters (token_start), shown in token lists

An admin holding a leaked token, or a user with several tokens, can tell which listed token it is
without the secret being stored: only "pdt_" and 8 of its 43 random characters are kept. Tokens
created before this revision have none ('').

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 21:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('token_start', sa.String(length=12), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('token_start')
