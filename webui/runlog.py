"""A run's whole log as text, read a page of events at a time so memory stays bounded."""

from __future__ import annotations

from collections.abc import Iterator

from playdeck.db import session_scope
from playdeck.models import RunEvent
from playdeck.runs.events import MAX_EVENTS_PER_PAGE, events_after


def log_text(run_id: int) -> Iterator[str]:
    after = 0
    while True:
        # A session per page: a long download never holds a connection between chunks.
        with session_scope() as session:
            page = list(events_after(session, run_id, after, columns=(RunEvent.counter, RunEvent.stdout)))
        if not page:
            return
        yield "".join(f"{stdout}\n" for _, stdout in page if stdout)
        if len(page) < MAX_EVENTS_PER_PAGE:
            return
        after = page[-1][0]
