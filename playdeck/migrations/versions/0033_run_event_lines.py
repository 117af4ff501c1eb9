"""run_event_lines and run_event_failures: the narrow copy of run_events that log search and filters read

A search for a rare text, and the status filter behind "jump to the first failure", read every row of a
run. A run_events row carries ~900 bytes of ansible's event data, so a 200,000-event run (~157 MB) did not
fit MariaDB's default buffer pool (128 MB) and each search read it from disk (bench/logs.py). These tables
hold what the filters read, ~150 bytes a row; run_event_failures only the failed and unreachable events,
few in any run. ``changed``: the event data's ``res.changed`` is JSON's true (as ingestion now writes it,
``playdeck.runs.log_filters.changed``).

Existing events are copied here, ``BACKFILL_COUNTERS`` counters of one run per statement, each statement its
own transaction (millions of events are not one transaction). Upgrade while no run is going, as always:
a run writing events with the old code would leave them out of its search. Downgrading drops the tables.

Revision ID: 0033
Revises: 0032
Create Date: 2027-02-14 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), 'mariadb').with_variant(mysql.LONGTEXT(), 'mysql')
TABLES = ('run_event_lines', 'run_event_failures')
BACKFILL_COUNTERS = 20_000
FAILURE_EVENTS = "'runner_on_failed', 'runner_item_on_failed', 'runner_on_unreachable'"
# MariaDB compares JSON scalars unquoted and by the collation: the string "TRUE" equals true without the type.
CHANGED = {
    'mysql': "IFNULL(JSON_TYPE(JSON_EXTRACT(event_data_json, '$.res.changed')) = 'BOOLEAN' "
             "AND JSON_EXTRACT(event_data_json, '$.res.changed') = JSON_EXTRACT('true', '$'), 0)",
    'sqlite': "IFNULL(json_type(event_data_json, '$.res.changed') = 'true', 0)",
}
COPY = (
    'INSERT INTO {table} (run_id, counter, host, event, changed, stdout) '
    'SELECT run_id, counter, host, event, {changed}, stdout FROM run_events '
    'WHERE run_id = :run_id AND counter > :start AND counter <= :end{where}'
)


def _create(table: str) -> None:
    op.create_table(
        table,
        sa.Column('run_id', BIG_ID, nullable=False),
        sa.Column('counter', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('event', sa.String(length=64), nullable=False),
        sa.Column('changed', sa.Boolean(), nullable=False),
        sa.Column('stdout', LONG_TEXT, nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'counter'),
        # Small rows in key order, as InnoDB keeps them (no rowid and second index to read through).
        sqlite_with_rowid=False,
    )


def _backfill() -> None:
    runs = op.get_bind().execute(
        sa.text('SELECT run_id, MIN(counter), MAX(counter) FROM run_events GROUP BY run_id')
    ).all()
    changed = CHANGED['sqlite' if op.get_bind().dialect.name == 'sqlite' else 'mysql']
    lines = sa.text(COPY.format(table='run_event_lines', changed=changed, where=''))
    failures = sa.text(COPY.format(table='run_event_failures', changed=changed,
                                   where=f' AND event IN ({FAILURE_EVENTS})'))
    with op.get_context().autocommit_block():
        connection = op.get_bind()
        for run_id, low, high in runs:
            for start in range(low - 1, high, BACKFILL_COUNTERS):
                values = {'run_id': run_id, 'start': start, 'end': start + BACKFILL_COUNTERS}
                connection.execute(lines, values)
                connection.execute(failures, values)


def upgrade() -> None:
    for table in TABLES:
        _create(table)
    _backfill()


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
