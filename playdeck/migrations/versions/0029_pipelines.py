"""pipelines: a project's chains of steps; pipeline_runs (the commit resolved at the start) and
pipeline_step_runs (one row per step, its state and current run); runs.pipeline_run_id, pipeline_step (a
step's run) and playbook (a step that runs another playbook of the project than its own);
projects.branch_pipelines_json (a push to a branch starts a pipeline)

Existing runs belong to no pipeline and run their project's playbook (NULLs).

Revision ID: 0029
Revises: 0028
Create Date: 2027-02-03 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _pipelines() -> None:
    op.create_table('pipelines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('steps_json', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'name', name='uq_pipelines_project_name'),
    sqlite_autoincrement=True,
    )


def _pipeline_runs() -> None:
    op.create_table('pipeline_runs',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('steps_json', sa.Text(), nullable=False),
    sa.Column('ref', sa.String(length=255), nullable=False),
    sa.Column('commit_sha', sa.String(length=64), nullable=True),
    sa.Column('commit_subject', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=128), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('failed_step', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('resumes', sa.Integer(), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('finished_at', TIMESTAMP, nullable=True),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_pipeline_runs_pipeline', 'pipeline_runs', ['pipeline_id', 'id'])
    op.create_index('ix_pipeline_runs_state', 'pipeline_runs', ['state'])


def _pipeline_step_runs() -> None:
    op.create_table('pipeline_step_runs',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('pipeline_run_id', BIG_ID, nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('run_id', BIG_ID, nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('started_at', TIMESTAMP, nullable=True),
    sa.Column('finished_at', TIMESTAMP, nullable=True),
    sa.ForeignKeyConstraint(['pipeline_run_id'], ['pipeline_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pipeline_run_id', 'step', name='uq_pipeline_step_runs_run_step'),
    )
    op.create_index('ix_pipeline_step_runs_state', 'pipeline_step_runs', ['state'])


def upgrade() -> None:
    _pipelines()
    _pipeline_runs()
    _pipeline_step_runs()
    # Plain ADD COLUMNs, not a batch: see 0019 and 0020.
    op.add_column('runs', sa.Column('pipeline_run_id', BIG_ID, nullable=True))
    op.add_column('runs', sa.Column('pipeline_step', sa.String(length=64), nullable=True))
    op.add_column('runs', sa.Column('playbook', sa.String(length=255), nullable=True))
    op.create_index('ix_runs_pipeline_run_id', 'runs', ['pipeline_run_id'])
    op.add_column('projects', sa.Column('branch_pipelines_json', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('projects') as batch:
        batch.drop_column('branch_pipelines_json')
    op.drop_index('ix_runs_pipeline_run_id', table_name='runs')
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('playbook')
        batch.drop_column('pipeline_step')
        batch.drop_column('pipeline_run_id')
    op.drop_table('pipeline_step_runs')
    op.drop_table('pipeline_runs')
    op.drop_table('pipelines')
