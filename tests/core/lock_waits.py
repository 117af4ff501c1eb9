"""What a MariaDB race test waits on: the other transaction queued for a row lock (not a sleep)."""

from __future__ import annotations

from sqlalchemy import text

from playdeck import db


def waiting_for_a_lock(connection_id: int) -> bool:
    """Whether the transaction of MariaDB connection ``connection_id`` waits for a lock right now."""
    with db.session_scope() as session:
        state = session.scalar(
            text("SELECT trx_state FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = :id"),
            {"id": connection_id},
        )
    return state == "LOCK WAIT"
