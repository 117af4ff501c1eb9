"""Run events: turning ansible-runner events into rows, storing them in batches, reading them back.

Rows are unique per (run, counter) and inserted with "ignore duplicates", so a batch written twice
(a retry after a connection blip) never duplicates an event.

On MariaDB/MySQL a batch is one multi-row ``INSERT IGNORE`` whose values this module writes as SQL
literals itself: PyMySQL escapes every string with ``str.translate``, which cost ~8× the rest of a row
(profiled in bench/ingest.py; ~900 bytes of text per event), and capped ingestion far below 20,000
events/s. The literals follow the server's own escaping rules (see ``_mysql_literal``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from typing import Any

from pymysql.constants import SERVER_STATUS
from sqlalchemy import Integer, Row, Select, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from playdeck.db import Executor
from playdeck.models import Run, RunEvent
from playdeck.runs import log_filters
from playdeck.runs.log_filters import NO_FILTER, FilterShape, LogFilter
from playdeck.runs.queries import lock_run

MAX_EVENTS_PER_PAGE = 1000
# A page of the log as the API serves it unless asked for more, and as the run page first shows it: a
# screenful and more. Each event costs the database and the web process alike (issue 7).
EVENTS_PER_PAGE = 200
COLUMNS = ("run_id", "counter", "uuid", "event", "host", "task", "play", "stdout", "start_line", "end_line",
           "created", "event_data_json")  # fmt: skip
# Characters; ≤ 8 MiB of UTF-8, under max_allowed_packet (16 MiB by default). More go in several INSERTs.
MAX_STATEMENT_CHARS = 2 * 1024 * 1024
# MySQL's string-literal escapes (what PyMySQL's escape_string does), backslash first.
_ESCAPES = (("\\", "\\\\"), ("\0", "\\0"), ("\n", "\\n"), ("\r", "\\r"), ("\032", "\\Z"),
            ("'", "\\'"), ('"', '\\"'))  # fmt: skip


def _created(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return parsed


def event_row(run_id: int, event: dict[str, Any]) -> dict[str, Any]:
    """The DB row for one ansible-runner event dict."""
    data = event.get("event_data") or {}
    return {
        "run_id": run_id,
        "counter": int(event["counter"]),
        "uuid": str(event.get("uuid") or "")[:64],
        "event": str(event.get("event") or "")[:64],
        "host": str(data.get("host") or data.get("remote_addr") or "")[:255],
        "task": str(data.get("task") or ""),
        "play": str(data.get("play") or ""),
        "stdout": event.get("stdout") or "",
        "start_line": int(event.get("start_line") or 0),
        "end_line": int(event.get("end_line") or 0),
        "created": _created(event.get("created")),
        "event_data_json": json.dumps(data, default=str),
    }


def _mysql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        for char, escaped in _ESCAPES:
            if char in value:
                value = value.replace(char, escaped)
        return f"'{value}'"
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat(' ')}'"
    return str(int(value))


def _insert_mysql(session: Session, rows: Sequence[dict[str, Any]]) -> int | None:
    """One multi-row INSERT IGNORE per MAX_STATEMENT_CHARS; None if the server does not take backslash
    escapes (sql_mode NO_BACKSLASH_ESCAPES), where the generic path is used instead."""
    dbapi_connection = session.connection().connection.dbapi_connection
    if dbapi_connection is None or dbapi_connection.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES:
        return None
    prefix = f"INSERT IGNORE INTO {RunEvent.__tablename__} ({', '.join(COLUMNS)}) VALUES "
    statements, values, size = [], [], 0
    for row in rows:
        value = "(" + ",".join([_mysql_literal(row[column]) for column in COLUMNS]) + ")"
        if values and size + len(value) > MAX_STATEMENT_CHARS:
            statements.append(prefix + ",".join(values))
            values, size = [], 0
        values.append(value)
        size += len(value) + 1
    statements.append(prefix + ",".join(values))
    inserted = 0
    with dbapi_connection.cursor() as cursor:
        for statement in statements:
            # No parameters: the driver sends the text as it is (no %-formatting of the values).
            inserted += cursor.execute(statement)
    return inserted


def store_events(session: Session, run_id: int, rows: Sequence[dict[str, Any]]) -> int:
    """Insert a batch, skipping counters already stored; returns how many rows were new."""
    if not rows:
        return 0
    lock_run(session, run_id)
    dialect = session.get_bind().dialect.name
    inserted = _insert_mysql(session, rows) if dialect in ("mysql", "mariadb") else None
    if inserted is None:
        statement = insert(RunEvent)
        if dialect == "sqlite":
            statement = statement.prefix_with("OR IGNORE")
        elif dialect in ("mysql", "mariadb"):
            statement = statement.prefix_with("IGNORE")
        # executemany through Core: one round trip per batch, no ORM identity-map overhead.
        inserted = session.connection().execute(statement, list(rows)).rowcount
    if inserted and inserted > 0:
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(event_count=Run.event_count + inserted)
            .execution_options(synchronize_session=False)
        )
    return max(inserted or 0, 0)


# What a log view shows of an event: everything but its data (the largest column).
LOG_COLUMNS = (RunEvent.counter, RunEvent.uuid, RunEvent.event, RunEvent.host, RunEvent.task, RunEvent.play,
               RunEvent.stdout, RunEvent.start_line, RunEvent.end_line, RunEvent.created)  # fmt: skip


@functools.cache
def _page_query(
    columns: tuple[ColumnElement[Any], ...], newer: bool, shape: FilterShape = NO_FILTER.shape
) -> Select[Any]:
    """The page statement for these columns, after (``newer``) or before a counter, with a filter of this
    shape; built once per shape, since SQLAlchemy memoizes a statement's cache key on the statement object."""
    run_id, counter, limit = bindparam("run_id"), bindparam("counter"), bindparam("limit", type_=Integer)
    return (
        select(*columns)
        .where(
            RunEvent.run_id == run_id,
            RunEvent.counter > counter if newer else RunEvent.counter < counter,
            *log_filters.conditions(shape),
        )
        .order_by(RunEvent.counter if newer else RunEvent.counter.desc())
        .limit(limit)
    )


def _page(
    session: Executor, columns: Sequence[ColumnElement[Any]], newer: bool, log_filter: LogFilter, **values: Any
) -> list[Row[Any]]:
    values["limit"] = max(1, min(values["limit"], MAX_EVENTS_PER_PAGE))
    return _rows(session, columns, newer, log_filter, values)


def _rows(
    session: Executor, columns: Sequence[ColumnElement[Any]], newer: bool, log_filter: LogFilter, values: dict[str, Any]
) -> list[Row[Any]]:
    statement = _page_query(tuple(columns), newer, log_filter.shape)
    return list(session.execute(statement, values | log_filter.bind_values()).all())


def events_after(
    session: Executor,
    run_id: int,
    after: int = 0,
    limit: int = MAX_EVENTS_PER_PAGE,
    columns: Sequence[ColumnElement[Any]] = LOG_COLUMNS,
    log_filter: LogFilter = NO_FILTER,
) -> list[Row[Any]]:
    """Events with counter > ``after`` in counter order (those ``log_filter`` keeps): the cursor for the
    API, the stream and the CLI.

    Rows of ``columns`` (``row.counter``, ``row.stdout``...), not ORM objects: a page is up to 1,000
    events, and building entities for them cost more than the query and the JSON together."""
    return _page(session, columns, True, log_filter, run_id=run_id, counter=after, limit=limit)


def events_before(
    session: Executor,
    run_id: int,
    before: int,
    limit: int = MAX_EVENTS_PER_PAGE,
    columns: Sequence[ColumnElement[Any]] = LOG_COLUMNS,
    log_filter: LogFilter = NO_FILTER,
) -> list[Row[Any]]:
    """The ``limit`` events just below counter ``before`` (those ``log_filter`` keeps), in counter order
    (the (run, counter) index read backwards: the cost is the page, not the run's length). Rows of
    ``columns``."""
    return _page(session, columns, False, log_filter, run_id=run_id, counter=before, limit=limit)[::-1]


def matching_counters(session: Executor, run_id: int, log_filter: LogFilter, limit: int) -> list[int]:
    """Counters of the first ``limit`` events ``log_filter`` keeps: one read of the run's range, stopped
    there. Not capped at a page, since a counter is all a row brings back (a search counts its hits)."""
    rows = _rows(session, (RunEvent.counter,), True, log_filter, {"run_id": run_id, "counter": 0, "limit": limit})
    return [row.counter for row in rows]
