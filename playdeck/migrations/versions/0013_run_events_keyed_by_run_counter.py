"""run_events: primary key (run_id, counter) instead of a surrogate id plus a unique index

InnoDB clusters a table by its primary key. With the surrogate id every event was written twice (the
row, and the (run_id, counter) unique index), and a log page was read through the secondary index,
one row lookup per event. Keyed by (run_id, counter) a batch is appended at its run's end and a page
is one range read (issue 7: ingestion, and the first page of a 200,000-event log). The table is
rebuilt once: on a large table, run the upgrade in a quiet hour.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 14:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
COLUMNS = ('run_id', 'counter', 'uuid', 'event', 'host', 'task', 'play', 'stdout', 'start_line', 'end_line', 'created',
           'event_data_json')


def _sqlite_event_columns() -> list[sa.Column]:
    return [
        sa.Column('run_id', BigId, sa.ForeignKey('runs.id', ondelete='CASCADE'), nullable=False),
        sa.Column('counter', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.String(length=64), nullable=False),
        sa.Column('event', sa.String(length=64), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('task', sa.Text(), nullable=False),
        sa.Column('play', sa.Text(), nullable=False),
        sa.Column('stdout', sa.Text(), nullable=False),
        sa.Column('start_line', sa.Integer(), nullable=False),
        sa.Column('end_line', sa.Integer(), nullable=False),
        sa.Column('created', sa.DateTime(), nullable=True),
        sa.Column('event_data_json', sa.Text(), nullable=False),
    ]


def _copy_into(key: sa.Constraint, id_column: sa.Column | None = None) -> None:
    """SQLite cannot change a primary key in place: a new table, the rows, then the swap."""
    op.create_table('run_events_new', *([id_column] if id_column is not None else []), *_sqlite_event_columns(), key)
    columns = ', '.join(COLUMNS)
    op.execute(f'INSERT INTO run_events_new ({columns}) SELECT {columns} FROM run_events')
    op.drop_table('run_events')
    op.rename_table('run_events_new', 'run_events')


def upgrade() -> None:
    if op.get_bind().dialect.name in ('mysql', 'mariadb'):
        # One statement, one rebuild; the new key serves the run_id foreign key the unique index served.
        op.execute(
            'ALTER TABLE run_events DROP PRIMARY KEY, DROP COLUMN id, ADD PRIMARY KEY (run_id, counter), '
            'DROP INDEX uq_run_events_run_counter'
        )
        return
    _copy_into(sa.PrimaryKeyConstraint('run_id', 'counter', name='pk_run_events'))


def downgrade() -> None:
    if op.get_bind().dialect.name in ('mysql', 'mariadb'):
        op.execute(
            'ALTER TABLE run_events DROP PRIMARY KEY, ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT FIRST, '
            'ADD PRIMARY KEY (id), ADD CONSTRAINT uq_run_events_run_counter UNIQUE (run_id, counter)'
        )
        return
    _copy_into(
        sa.UniqueConstraint('run_id', 'counter', name='uq_run_events_run_counter'),
        id_column=sa.Column('id', BigId, primary_key=True, autoincrement=True),
    )
