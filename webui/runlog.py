"""A run's log: pages of events before a counter (the run page loads the tail, then earlier pages on
demand) and the whole log as text, read a page of events at a time so memory stays bounded."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck.db import session_scope
from playdeck.events import MAX_EVENTS_PER_PAGE, events_after
from playdeck.models import RunEvent


def events_before(session: Session, run_id: int, before: int, limit: int = MAX_EVENTS_PER_PAGE) -> list[RunEvent]:
    """The ``limit`` events just below counter ``before``, in counter order (the (run, counter) index
    read backwards: the cost is the page, not the run's length)."""
    limit = max(1, min(limit, MAX_EVENTS_PER_PAGE))
    newest_first = session.scalars(
        select(RunEvent)
        .where(RunEvent.run_id == run_id, RunEvent.counter < before)
        .order_by(RunEvent.counter.desc())
        .limit(limit)
    )
    return list(reversed(list(newest_first)))


def log_text(run_id: int) -> Iterator[str]:
    after = 0
    while True:
        # A session per page: a long download never holds a connection between chunks.
        with session_scope() as session:
            page = [(event.counter, event.stdout) for event in events_after(session, run_id, after)]
        if not page:
            return
        yield "".join(f"{stdout}\n" for _, stdout in page if stdout)
        if len(page) < MAX_EVENTS_PER_PAGE:
            return
        after = page[-1][0]
