"""host_deployments (what each host of an environment runs now, from what runs did to it);
run_host_summaries.deployed_version and deployed_commit (what a run switched the host to);
runs.failure_summary_json (why a run ended badly, per failed host)

Environments deployed before this have no host rows: their pages show the last successful deploy as before,
until a run reports (or completes) a switch.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-20 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')
LongText = sa.Text().with_variant(mysql.LONGTEXT(), 'mysql', 'mariadb')
RunId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'host_deployments',
        sa.Column('environment_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('version', sa.String(length=128), nullable=False),
        sa.Column('commit_sha', sa.String(length=64), nullable=True),
        sa.Column('run_id', RunId, nullable=False),
        sa.Column('updated_at', Timestamp, nullable=False),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('environment_id', 'host'),
    )
    # Plain ADD COLUMNs, not a batch: on SQLite a batch copies the table, and dropping the old runs table
    # deletes the events that reference it (see 0019).
    op.add_column('run_host_summaries', sa.Column('deployed_version', sa.String(length=128), nullable=True))
    op.add_column('run_host_summaries', sa.Column('deployed_commit', sa.String(length=64), nullable=True))
    op.add_column('runs', sa.Column('failure_summary_json', LongText, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('failure_summary_json')
    with op.batch_alter_table('run_host_summaries') as batch:
        batch.drop_column('deployed_commit')
        batch.drop_column('deployed_version')
    op.drop_table('host_deployments')
