"""ids never reused on SQLite: the tables whose ids the DNS history or the audit log name become AUTOINCREMENT

Without it SQLite gives the next row the id of a deleted newest row (max(rowid) + 1), so a new DNS record
took a deleted one's id and one record's history told of two. MariaDB's AUTO_INCREMENT never goes back:
nothing changes there. SQLite cannot alter a table's AUTOINCREMENT in place, so each table is rebuilt.

Revision ID: 0026
Revises: 0025
Create Date: 2027-01-27 10:00:00.000000
"""

from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

TABLES = (
    'dns_zones', 'dns_records', 'dns_changes', 'runs', 'api_tokens', 'webhooks', 'webhook_deliveries',
    'notification_destinations', 'notification_subscriptions', 'freeze_windows', 'schedules',
)


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    # Rebuilding drops the old table, and with foreign keys on SQLite's DROP TABLE deletes its rows first,
    # cascading to the children (a zone's records). The pragma only takes effect outside a transaction.
    context = op.get_context()
    with context.autocommit_block():
        op.execute('PRAGMA foreign_keys=OFF')
    try:
        for table in TABLES:
            with op.batch_alter_table(table, recreate='always',
                                      table_kwargs={'sqlite_autoincrement': autoincrement}):
                pass
    finally:
        with context.autocommit_block():
            op.execute('PRAGMA foreign_keys=ON')


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
