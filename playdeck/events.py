"""Run events: turning ansible-runner events into rows, storing them in batches, reading them back.

Rows are unique per (run, counter) and inserted with "ignore duplicates", so a batch written twice
(a retry after a connection blip) never duplicates an event.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from playdeck.models import Run, RunEvent

MAX_EVENTS_PER_PAGE = 1000


def _created(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
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


def store_events(session: Session, run_id: int, rows: Sequence[dict[str, Any]]) -> int:
    """Insert a batch, skipping counters already stored; returns how many rows were new."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
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


def events_after(session: Session, run_id: int, after: int = 0, limit: int = MAX_EVENTS_PER_PAGE) -> list[RunEvent]:
    """Events with counter > ``after`` in counter order: the cursor for the API, the stream and the CLI."""
    limit = max(1, min(limit, MAX_EVENTS_PER_PAGE))
    return list(
        session.scalars(
            select(RunEvent)
            .where(RunEvent.run_id == run_id, RunEvent.counter > after)
            .order_by(RunEvent.counter)
            .limit(limit)
        )
    )
