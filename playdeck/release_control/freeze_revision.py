"""The freeze windows as evaluated, read once per change of them rather than on every request.

Every change of the windows (create, update, delete in ``freeze_windows``) raises the one number in
``freeze_revision`` in its own transaction (``changed``). A reader reads that number first, in the transaction it
reads the rest with, and keeps the windows it read for that number (``groups``): parsed, grouped by scope, each
group with its last evaluation (``freeze_calendar.WindowGroup``). What it shows is what a fresh read in the same
transaction would have given, never older: the number and the windows are of one snapshot.

The deploy form, the dashboard and the freeze rule ask on every request: reading and parsing 1,000 windows each
time was three quarters of the deploy form's CPU (issue 24); the number is one row.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from playdeck.db import Executor
from playdeck.models import FreezeRevision, FreezeWindow
from playdeck.release_control import freeze_calendar as calendar
from playdeck.release_control.freeze_calendar import WEEKLY, YEARLY, WindowGroup
from playdeck.settings import get_settings

# The columns a window is evaluated from, read as plain rows: no ORM object per window.
EVALUATED = (
    FreezeWindow.id,
    FreezeWindow.name,
    FreezeWindow.kind,
    FreezeWindow.timezone,
    FreezeWindow.start_spec,
    FreezeWindow.end_spec,
    FreezeWindow.starts_at,
    FreezeWindow.ends_at,
    FreezeWindow.environment_id,
    FreezeWindow.reason,
)
# Databases whose windows a process keeps (one in production; tests use many).
MAX_DATABASES = 8

# Built once (see playdeck.runs.queries._runs_query).
_REVISION = select(FreezeRevision.revision).where(FreezeRevision.id == 1)
_RAISE = update(FreezeRevision).where(FreezeRevision.id == 1).values(revision=FreezeRevision.revision + 1)
_WINDOWS = select(*EVALUATED).order_by(FreezeWindow.id)


def parsed(window: FreezeWindow) -> calendar.Window:
    """A stored window as ``freeze_calendar`` evaluates it."""
    return parsed_row(tuple(getattr(window, column.key) for column in EVALUATED))


@functools.lru_cache(maxsize=20_000)
def parsed_row(row: tuple[Any, ...]) -> calendar.Window:
    """A row of ``EVALUATED``, parsed. Keyed by every column it reads: a changed window is a new key. Stored
    values were checked when saved."""
    window_id, name, kind, timezone, start_spec, end_spec, starts_at, ends_at, environment_id, reason = row
    where = calendar.zone(timezone)
    if kind == WEEKLY:
        start, end = calendar.parse_weekly(start_spec, "start"), calendar.parse_weekly(end_spec, "end")
    elif kind == YEARLY:
        start, end = calendar.parse_yearly(start_spec, "start"), calendar.parse_yearly(end_spec, "end")
    else:
        start, end = starts_at.replace(tzinfo=dt.UTC), ends_at.replace(tzinfo=dt.UTC)
    return calendar.Window(window_id, name, kind, where, start, end, environment_id, reason)


def changed(session: Session) -> None:
    """In the transaction that changed a window, after the change: every process reads the windows again.
    (The row's lock serializes changes of windows: they are rare.)"""
    session.execute(_RAISE)


@dataclass(frozen=True)
class _Kept:
    revision: int
    groups: dict[int | None, WindowGroup]


_kept: dict[str, _Kept] = {}


def groups(session: Executor) -> dict[int | None, WindowGroup]:
    """Every window, grouped by the environment it freezes (None: the global ones), as of the caller's
    transaction."""
    database = get_settings().database_url
    revision = session.scalar(_REVISION)
    kept = _kept.get(database)
    if kept is not None and kept.revision == revision:
        return kept.groups
    found = calendar.by_scope(parsed_row(tuple(row)) for row in session.execute(_WINDOWS))
    if revision is not None:  # None: no revision row (a database not made by the migrations): nothing kept
        if len(_kept) >= MAX_DATABASES:
            _kept.clear()
        _kept[database] = _Kept(revision, found)
    return found
