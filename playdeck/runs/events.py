"""Run events: turning ansible-runner events into rows, storing them in batches, reading them back.

Rows are unique per (run, counter) and inserted with "ignore duplicates", so a batch written twice
(a retry after a connection blip) never duplicates an event.

Each event is also written, narrow, to ``run_event_lines`` (and a failure to ``run_event_failures``), in
the same transaction: what the log's filters and search read (``playdeck.runs.log_filters``).

On MariaDB/MySQL a batch is one multi-row ``INSERT IGNORE`` per table whose values this module writes as
SQL literals itself: PyMySQL escapes every string with ``str.translate``, which cost ~8× the rest of a row
(profiled in bench/ingest.py; ~900 bytes of text per event), and capped ingestion far below 20,000
events/s. The literals follow the server's own escaping rules (see ``_mysql_literal``); a value written
to two tables is escaped once.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from typing import Any

from pymysql.constants import SERVER_STATUS
from sqlalchemy import Integer, Row, Select, and_, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from playdeck.db import Executor
from playdeck.models import Run, RunEvent, RunEventFailure, RunEventLine
from playdeck.runs import log_filters
from playdeck.runs.log_filters import FAILURE_EVENTS, NO_FILTER, FilterShape, LogFilter
from playdeck.runs.queries import lock_run

MAX_EVENTS_PER_PAGE = 1000
# A page of the log as the API serves it unless asked for more, and as the run page first shows it: a
# screenful and more. Each event costs the database and the web process alike (issue 7).
EVENTS_PER_PAGE = 200
COLUMNS = ("run_id", "counter", "uuid", "event", "host", "task", "play", "stdout", "start_line", "end_line",
           "created", "event_data_json")  # fmt: skip
# The narrow copy's (RunEventLine, RunEventFailure); "changed" is the row's own key (``event_row``).
LINE_COLUMNS = ("run_id", "counter", "host", "event", "changed", "stdout")
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
        # For run_event_lines (not a run_events column).
        "changed": log_filters.changed(data),
    }


def _changed(row: dict[str, Any]) -> bool:
    """The row's ``changed``, read from its data when it was built without ``event_row``."""
    if "changed" in row:
        return bool(row["changed"])
    return log_filters.changed(json.loads(row["event_data_json"] or "{}"))


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


# Where the narrow copy's values are among a run_events row's (its "changed" is not one).
_LINE_AT = tuple(COLUMNS.index(column) for column in ("run_id", "counter", "host", "event"))
_STDOUT_AT = COLUMNS.index("stdout")


def _mysql_values(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Each row's VALUES tuple for run_events and for the narrow tables (``LINE_COLUMNS``)."""
    events, lines = [], []
    run_id, counter, host, event = _LINE_AT
    for row in rows:
        literals = [_mysql_literal(row[column]) for column in COLUMNS]
        events.append("(" + ",".join(literals) + ")")
        changed = "1" if _changed(row) else "0"
        lines.append(
            f"({literals[run_id]},{literals[counter]},{literals[host]},{literals[event]},{changed},"
            f"{literals[_STDOUT_AT]})"
        )
    return events, lines


def _insert_values(cursor: Any, table: str, columns: Sequence[str], values: list[str]) -> int:
    """Multi-row INSERT IGNOREs of these VALUES tuples, one per MAX_STATEMENT_CHARS; the rows inserted."""
    prefix = f"INSERT IGNORE INTO {table} ({', '.join(columns)}) VALUES "
    inserted, start, size = 0, 0, 0
    for end, value in enumerate(values):
        if end > start and size + len(value) > MAX_STATEMENT_CHARS:
            # No parameters: the driver sends the text as it is (no %-formatting of the values).
            inserted += cursor.execute(prefix + ",".join(values[start:end]))
            start, size = end, 0
        size += len(value) + 1
    if start < len(values):
        inserted += cursor.execute(prefix + ",".join(values[start:]))
    return inserted


def _insert_mysql(session: Session, rows: Sequence[dict[str, Any]]) -> int | None:
    """The batch into run_events and the narrow tables; the run_events rows inserted. None if the server
    does not take backslash escapes (sql_mode NO_BACKSLASH_ESCAPES), where the generic path is used."""
    dbapi_connection = session.connection().connection.dbapi_connection
    if dbapi_connection is None or dbapi_connection.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES:
        return None
    events, lines = _mysql_values(rows)
    failures = [line for row, line in zip(rows, lines, strict=True) if row["event"] in FAILURE_EVENTS]
    with dbapi_connection.cursor() as cursor:
        inserted = _insert_values(cursor, RunEvent.__tablename__, COLUMNS, events)
        _insert_values(cursor, RunEventLine.__tablename__, LINE_COLUMNS, lines)
        _insert_values(cursor, RunEventFailure.__tablename__, LINE_COLUMNS, failures)
    return inserted


def _line(row: dict[str, Any]) -> dict[str, Any]:
    """A run_events row's narrow copy (RunEventLine, RunEventFailure)."""
    return {"run_id": row["run_id"], "counter": row["counter"], "host": row["host"], "event": row["event"],
            "changed": _changed(row), "stdout": row["stdout"]}  # fmt: skip


def _insert_core(session: Session, dialect: str, table: type[Any], rows: Sequence[dict[str, Any]]) -> int:
    statement = insert(table)
    if dialect == "sqlite":
        statement = statement.prefix_with("OR IGNORE")
    elif dialect in ("mysql", "mariadb"):
        statement = statement.prefix_with("IGNORE")
    # executemany through Core: one round trip per batch, no ORM identity-map overhead.
    return session.connection().execute(statement, list(rows)).rowcount


def _insert_generic(session: Session, dialect: str, rows: Sequence[dict[str, Any]]) -> int:
    """The batch into run_events and the narrow tables through SQLAlchemy Core (SQLite); the run_events
    rows inserted."""
    inserted = _insert_core(session, dialect, RunEvent, rows)
    lines = [_line(row) for row in rows]
    _insert_core(session, dialect, RunEventLine, lines)
    failures = [line for line in lines if line["event"] in FAILURE_EVENTS]
    if failures:
        _insert_core(session, dialect, RunEventFailure, failures)
    return inserted


def store_events(session: Session, run_id: int, rows: Sequence[dict[str, Any]]) -> int:
    """Insert a batch, skipping counters already stored; returns how many rows were new."""
    if not rows:
        return 0
    lock_run(session, run_id)
    dialect = session.get_bind().dialect.name
    inserted = _insert_mysql(session, rows) if dialect in ("mysql", "mariadb") else None
    if inserted is None:
        inserted = _insert_generic(session, dialect, rows)
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
def _counters_query(newer: bool, shape: FilterShape) -> Select[Any]:
    """The counters a filter of this shape keeps, after (``newer``) or before a counter, read from the table
    it reads (``log_filters.source``): a narrow one, unless there is no filter."""
    table = log_filters.source(shape)
    conditions = () if table is RunEvent else log_filters.conditions(shape, table)
    return _range_read(select(table.counter), table, newer, conditions)


def _range_read(
    statement: Select[Any], table: log_filters.Source, newer: bool, conditions: Sequence[ColumnElement[bool]] = ()
) -> Select[Any]:
    """``statement`` over the run's rows of ``table`` after (``newer``) or before a counter, in that order, up to
    a limit (bind parameters ``run_id``, ``counter``, ``limit``)."""
    run_id, counter, limit = bindparam("run_id"), bindparam("counter"), bindparam("limit", type_=Integer)
    return (
        statement.where(table.run_id == run_id, table.counter > counter if newer else table.counter < counter,
                        *conditions)
        .order_by(table.counter if newer else table.counter.desc())
        .limit(limit)
    )  # fmt: skip


@functools.cache
def _page_query(
    columns: tuple[ColumnElement[Any], ...], newer: bool, shape: FilterShape = NO_FILTER.shape
) -> Select[Any]:
    """The page statement for these columns, after (``newer``) or before a counter, with a filter of this
    shape; built once per shape, since SQLAlchemy memoizes a statement's cache key on the statement object.

    Filtered, the page's counters come from the narrow table first (a derived table of at most ``limit``
    rows), then their events by key: the wide rows read are the page's only."""
    if log_filters.source(shape) is RunEvent:
        return _range_read(select(*columns), RunEvent, newer)
    page = _counters_query(newer, shape).subquery("page")
    return (
        select(*columns)
        .select_from(page)
        .join(RunEvent, and_(RunEvent.run_id == bindparam("run_id"), RunEvent.counter == page.c.counter))
        .order_by(RunEvent.counter if newer else RunEvent.counter.desc())
        # The page first, whatever the statistics say: without any (a new table), MariaDB read all the
        # run's events and looked each up in the page.
        .prefix_with("STRAIGHT_JOIN", dialect="mysql")
        .prefix_with("STRAIGHT_JOIN", dialect="mariadb")
    )


def _page(
    session: Executor, columns: Sequence[ColumnElement[Any]], newer: bool, log_filter: LogFilter, **values: Any
) -> list[Row[Any]]:
    values["limit"] = max(1, min(values["limit"], MAX_EVENTS_PER_PAGE))
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


def matching_counters(
    session: Executor, run_id: int, log_filter: LogFilter, limit: int, after: int = 0, before: int | None = None
) -> list[int]:
    """Counters of the first ``limit`` events ``log_filter`` keeps after ``after`` (or of the last ``limit``
    before ``before``), in counter order: one read of the run's narrow range, stopped there. Not capped at a
    page, since a counter is all a row brings back (a search counts its hits)."""
    newer = before is None
    statement = _counters_query(newer, log_filter.shape)
    values = {"run_id": run_id, "counter": after if before is None else before, "limit": limit}
    counters = list(session.scalars(statement, values | log_filter.bind_values()))
    return counters if newer else counters[::-1]
