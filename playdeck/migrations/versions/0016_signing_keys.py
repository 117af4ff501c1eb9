"""signing_keys: a server-wide random key per use, shared by every web process (the login form's token)

The login form's CSRF token is bound to a signed per-browser nonce; every web process must verify what
another signed, so the key lives in the DB unless PLAYDECK_FLASK_SECRET_KEY is set. Made on first use.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:30:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signing_keys',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql'), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('signing_keys')
