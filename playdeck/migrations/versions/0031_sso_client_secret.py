"""sso_client_secrets: the OpenID Connect client secret an admin stored in Playdeck (Fernet ciphertext under
PLAYDECK_SECRET_KEY), used when neither PLAYDECK_OIDC_CLIENT_SECRET nor its _FILE is set

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def upgrade() -> None:
    op.create_table('sso_client_secrets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('ciphertext', sa.Text(), nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', name='uq_sso_client_secrets_source')
    )


def downgrade() -> None:
    op.drop_table('sso_client_secrets')
