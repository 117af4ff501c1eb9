"""api_tokens: the token that created a token (parent_id), so revoking it revokes its children

A token made through the API with a bearer token records that token. Tokens created before this
revision have no parent. Deactivating a user now revokes their tokens (``playdeck.auth.users``);
nothing here changes existing rows.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 23:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_api_tokens_parent_id'), ['parent_id'], unique=False)
        batch.create_foreign_key(
            'fk_api_tokens_parent_id_api_tokens', 'api_tokens', ['parent_id'], ['id'], ondelete='SET NULL'
        )


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_constraint('fk_api_tokens_parent_id_api_tokens', type_='foreignkey')
        batch.drop_index(batch.f('ix_api_tokens_parent_id'))
        batch.drop_column('parent_id')
