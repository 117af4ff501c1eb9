"""projects.launch_form_json and allow_free_extra_vars (the variables a launch may set, and their types);
runs.secret_var_names_json and secret_vars_sealed (a launch form's secret inputs, kept encrypted until
the run ends, never in extra_vars)

Projects that exist already declare no form, so their launches keep taking free extra vars; the shipped
sample declares its own in playbooks/sampleapp/deploy.launch.yml.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 23:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch: on SQLite a batch copies the table, and dropping the old projects
    # table fails on the foreign keys of the rows that reference it.
    op.add_column('projects', sa.Column('launch_form_json', sa.Text(), nullable=True))
    op.add_column('projects', sa.Column('allow_free_extra_vars', sa.Boolean(), server_default=sa.text('0'), nullable=False))
    op.add_column('runs', sa.Column('secret_var_names_json', sa.Text(), server_default='[]', nullable=False))
    op.add_column('runs', sa.Column('secret_vars_sealed', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('secret_vars_sealed')
        batch.drop_column('secret_var_names_json')
    with op.batch_alter_table('projects') as batch:
        batch.drop_column('allow_free_extra_vars')
        batch.drop_column('launch_form_json')
