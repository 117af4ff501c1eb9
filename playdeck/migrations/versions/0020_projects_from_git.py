"""projects from git: projects.source_kind ("directory" for every project so far), git_url, git_branch,
git_username, git_cache_seconds, git_submodules, git_known_hosts, branch_environments_json, vault_id,
archived_at; environments.inline_inventory and variables_yaml

Existing projects keep their playbook and inventories in the server's dirs: source_kind "directory".

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-10 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')
PROJECT_COLUMNS = ('archived_at', 'vault_id', 'branch_environments_json', 'git_known_hosts', 'git_submodules',
                   'git_cache_seconds', 'git_username', 'git_branch', 'git_url', 'source_kind')


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch: on SQLite a batch copies the table, and dropping the old projects
    # table fails on the foreign keys of the rows that reference it (see 0018).
    op.add_column('projects', sa.Column('source_kind', sa.String(length=16), server_default='directory', nullable=False))
    op.add_column('projects', sa.Column('git_url', sa.String(length=2048), nullable=True))
    op.add_column('projects', sa.Column('git_branch', sa.String(length=255), nullable=True))
    op.add_column('projects', sa.Column('git_username', sa.String(length=255), server_default='', nullable=False))
    op.add_column('projects', sa.Column('git_cache_seconds', sa.Integer(), server_default='60', nullable=False))
    op.add_column('projects', sa.Column('git_submodules', sa.Boolean(), server_default=sa.text('0'), nullable=False))
    op.add_column('projects', sa.Column('git_known_hosts', sa.Text(), server_default='', nullable=False))
    op.add_column('projects', sa.Column('branch_environments_json', sa.Text(), nullable=True))
    op.add_column('projects', sa.Column('vault_id', sa.String(length=100), server_default='', nullable=False))
    op.add_column('projects', sa.Column('archived_at', Timestamp, nullable=True))
    op.add_column('environments', sa.Column('inline_inventory', sa.Text(), nullable=True))
    op.add_column('environments', sa.Column('variables_yaml', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('environments') as batch:
        batch.drop_column('variables_yaml')
        batch.drop_column('inline_inventory')
    with op.batch_alter_table('projects') as batch:
        for column in PROJECT_COLUMNS:
            batch.drop_column(column)
