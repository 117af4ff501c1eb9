"""single sign-on: sso_group_rules (a provider group -> a role and project/zone grants), sso_accounts (the
provider account a user signs in with), oidc_logins (OpenID Connect logins under way: state, nonce, PKCE
verifier); project_members.source and zone_editors.source ("" by hand, "sso" by the mapping)

Existing grants were given by hand ("").

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('sso_group_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('group_name', sa.String(length=512), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('projects_json', sa.Text(), nullable=False),
    sa.Column('zones_json', sa.Text(), nullable=False),
    sa.Column('keep_manual_grants', sa.Boolean(), server_default=sa.text('1'), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'group_name', name='uq_sso_group_rules_source_group'),
    sqlite_autoincrement=True
    )
    op.create_table('sso_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=512), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('groups_json', sa.Text(), nullable=False),
    sa.Column('deactivated_by_mapping', sa.Boolean(), server_default=sa.text('0'), nullable=False),
    sa.Column('first_login_at', Timestamp, nullable=False),
    sa.Column('last_login_at', Timestamp, nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'subject', name='uq_sso_accounts_source_subject'),
    sa.UniqueConstraint('user_id', name='uq_sso_accounts_user')
    )
    op.create_table('oidc_logins',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('browser_hash', sa.String(length=64), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('code_verifier', sa.String(length=128), nullable=False),
    sa.Column('next_url', sa.String(length=1000), nullable=False),
    sa.Column('test_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('expires_at', Timestamp, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('state_hash', name='uq_oidc_logins_state_hash')
    )
    op.create_index('ix_oidc_logins_expires_at', 'oidc_logins', ['expires_at'], unique=False)
    # Plain ADD COLUMNs, not a batch: see 0019 and 0020.
    op.add_column('project_members', sa.Column('source', sa.String(length=10), server_default='', nullable=False))
    op.add_column('zone_editors', sa.Column('source', sa.String(length=10), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('zone_editors') as batch:
        batch.drop_column('source')
    with op.batch_alter_table('project_members') as batch:
        batch.drop_column('source')
    op.drop_index('ix_oidc_logins_expires_at', table_name='oidc_logins')
    op.drop_table('oidc_logins')
    op.drop_table('sso_accounts')
    op.drop_table('sso_group_rules')
