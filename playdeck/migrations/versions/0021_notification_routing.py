"""notification_routing: named notification destinations, their subscriptions, run notices; the webhook
outbox carries a destination's deliveries too (webhook_id or destination_id)

Revision ID: 0021
Revises: 0020
Create Date: 2027-01-10 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('notification_destinations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('notification_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('environment', sa.String(length=100), nullable=True),
    sa.Column('events', sa.String(length=255), nullable=False),
    sa.Column('failure_only', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('quiet_start', sa.String(length=5), nullable=True),
    sa.Column('quiet_end', sa.String(length=5), nullable=True),
    sa.Column('quiet_zone', sa.String(length=64), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['destination_id'], ['notification_destinations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_notification_subscriptions_destination', 'notification_subscriptions', ['destination_id'])
    op.create_index('ix_notification_subscriptions_project', 'notification_subscriptions', ['project_id'])
    op.create_table('run_notices',
    sa.Column('run_id', BIG_ID, nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'event')
    )
    # webhook_deliveries is referenced by no table: SQLite's batch copy of it is safe.
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.alter_column('webhook_id', existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column('destination_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_webhook_deliveries_destination', 'notification_destinations',
                                 ['destination_id'], ['id'], ondelete='CASCADE')
        batch.create_index('ix_webhook_deliveries_destination', ['destination_id', 'id'], unique=False)


def downgrade() -> None:
    op.execute('DELETE FROM webhook_deliveries WHERE webhook_id IS NULL')
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.drop_constraint('fk_webhook_deliveries_destination', type_='foreignkey')
        batch.drop_index('ix_webhook_deliveries_destination')
        batch.drop_column('destination_id')
        batch.alter_column('webhook_id', existing_type=sa.Integer(), nullable=False)
    op.drop_table('run_notices')
    op.drop_table('notification_subscriptions')
    op.drop_table('notification_destinations')
