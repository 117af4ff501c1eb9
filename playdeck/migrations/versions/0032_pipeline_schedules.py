"""schedules of a pipeline: schedules.pipeline_id (a schedule starts a pipeline run instead of deploying an
environment; then environment_id is NULL) and schedule_fires.pipeline_run_id (the pipeline run a fire started)

Existing schedules deploy their environment (pipeline_id NULL).

Revision ID: 0032
Revises: 0031
Create Date: 2027-02-10 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('schedules') as batch:
        batch.add_column(sa.Column('pipeline_id', sa.Integer(), nullable=True))
        batch.alter_column('environment_id', existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key('fk_schedules_pipeline_id_pipelines', 'pipelines', ['pipeline_id'], ['id'],
                                 ondelete='CASCADE')
    with op.batch_alter_table('schedule_fires') as batch:
        batch.add_column(sa.Column('pipeline_run_id', BIG_ID, nullable=True))


def downgrade() -> None:
    op.execute('DELETE FROM schedules WHERE pipeline_id IS NOT NULL')
    with op.batch_alter_table('schedule_fires') as batch:
        batch.drop_column('pipeline_run_id')
    with op.batch_alter_table('schedules') as batch:
        batch.drop_constraint('fk_schedules_pipeline_id_pipelines', type_='foreignkey')
        batch.drop_column('pipeline_id')
        batch.alter_column('environment_id', existing_type=sa.Integer(), nullable=False)
