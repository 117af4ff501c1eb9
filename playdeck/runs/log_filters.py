"""Which of a run's log lines to read: one host's, those of some task outcomes, those holding a text.

A filter becomes conditions on the run's (run_id, counter) range of a narrow copy of its events (``source``):
``run_event_lines``, or ``run_event_failures`` when only failures are asked for. A filtered page is that
range read until the page is full, skipping what does not match: all of a run's rows when few match, so
those rows are kept small (~150 bytes, against ~1 KB with the event's data): a 200,000-event run's lines
stay in MariaDB's buffer pool (bench/logs.py). Failures are few in any run, so "the first failure" reads
only them. There is no index on host, event or text to keep up at ingestion (migration 0013 dropped the
last one on purpose); the narrow rows cost one more append per event (bench/ingest.py).

Text is matched literally: the user's ``%``, ``_`` and the escape character itself are escaped, and the
pattern is a bound value, never SQL. Case is ignored as the column's collation ignores it (MariaDB's
``utf8mb4_general_ci``, which also ignores accents; SQLite ignores the case of ASCII letters only).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from playdeck.errors import ValidationError
from playdeck.models import RunEvent, RunEventFailure, RunEventLine

# A task's outcome on a host, as ansible-runner names its events (per task, and per loop item).
OK_EVENTS = ("runner_on_ok", "runner_item_on_ok")
STATUS_EVENTS = {
    "failed": ("runner_on_failed", "runner_item_on_failed"),
    "changed": OK_EVENTS,
    "unreachable": ("runner_on_unreachable",),
    "ok": OK_EVENTS,
    "skipped": ("runner_on_skipped", "runner_item_on_skipped"),
}
STATUSES = tuple(STATUS_EVENTS)
FAILURE_STATUSES = ("failed", "unreachable")
# What ``run_event_failures`` holds (playdeck.runs.events.store_events).
FAILURE_EVENTS = frozenset(event for status in FAILURE_STATUSES for event in STATUS_EVENTS[status])
MAX_TEXT_CHARS = 200
MAX_HOST_CHARS = 255  # the column's width
LIKE_ESCAPE = "/"
# What a filter's SQL depends on: a host given, the statuses, a text given.
FilterShape = tuple[bool, tuple[str, ...], bool]
# The tables a filter reads: the events themselves (no filter: a page of the log) or a narrow copy.
Lines = type[RunEventLine] | type[RunEventFailure]
Source = type[RunEvent] | Lines


def changed(event_data: Any) -> bool:
    """Whether ansible's result says the task changed the host (what ``RunEventLine.changed`` holds): its
    ``res.changed`` is JSON's ``true``. (Read from the JSON text by the database before migration 0033,
    MariaDB also took the string "true" for it; SQLite did not.)"""
    result = event_data.get("res") if isinstance(event_data, dict) else None
    return isinstance(result, dict) and result.get("changed") is True


@dataclass(frozen=True)
class LogFilter:
    """``host``: that host's lines only; ``statuses``: lines of those outcomes (``STATUSES``); ``text``:
    lines whose output holds it. ``None``/empty: no condition of that kind."""

    host: str | None = None
    statuses: tuple[str, ...] = ()
    text: str | None = None

    @property
    def shape(self) -> FilterShape:
        """What the SQL statement depends on (the values are bound): statements are built once per shape."""
        return bool(self.host), self.statuses, bool(self.text)

    def bind_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if self.host:
            values["host"] = self.host
        if self.text:
            values["pattern"] = f"%{like_literal(self.text)}%"
        return values


NO_FILTER = LogFilter()


def like_literal(text: str) -> str:
    """``text`` as a LIKE pattern that matches exactly it (with ``ESCAPE LIKE_ESCAPE``)."""
    for char in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(char, LIKE_ESCAPE + char)
    return text


def source(shape: FilterShape) -> Source:
    """The table a filter of this shape reads: failures only when it asks for nothing else."""
    _, statuses, _ = shape
    if shape == NO_FILTER.shape:
        return RunEvent
    if statuses and set(statuses) <= set(FAILURE_STATUSES):
        return RunEventFailure
    return RunEventLine


def _status_condition(table: Lines, status: str) -> ColumnElement[bool]:
    outcome = table.event.in_(STATUS_EVENTS[status])
    if status == "changed":
        return and_(outcome, table.changed)
    if status == "ok":
        # An ok event that did not change the host.
        return and_(outcome, not_(table.changed))
    return outcome


@functools.cache
def conditions(shape: FilterShape, table: Lines) -> tuple[ColumnElement[bool], ...]:
    """The WHERE conditions on ``table`` of a filter of this shape (values as bind parameters ``host``,
    ``pattern``)."""
    has_host, statuses, has_text = shape
    found: list[ColumnElement[bool]] = []
    if has_host:
        found.append(table.host == bindparam("host"))
    if statuses:
        found.append(or_(*[_status_condition(table, status) for status in statuses]))
    if has_text:
        found.append(table.stdout.like(bindparam("pattern"), escape=LIKE_ESCAPE))
    return tuple(found)


def parse_statuses(value: str | None) -> tuple[str, ...]:
    """``failed,unreachable`` → the statuses in ``STATUSES`` order (one statement per set, not per order)."""
    given = {part.strip() for part in (value or "").split(",") if part.strip()}
    unknown = sorted(given - set(STATUSES))
    if unknown:
        raise ValidationError("status", f"'{unknown[0]}' is not a status; choose from {', '.join(STATUSES)}")
    return tuple(status for status in STATUSES if status in given)


def parse_filter(host: str | None, status: str | None, text: str | None = None) -> LogFilter:
    """A filter from query-string values, with a clear error for each bad one."""
    if host is not None and len(host) > MAX_HOST_CHARS:
        raise ValidationError("host", f"a host name has at most {MAX_HOST_CHARS} characters")
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise ValidationError("q", f"search for at most {MAX_TEXT_CHARS} characters")
    return LogFilter(host=host or None, statuses=parse_statuses(status), text=text or None)
