"""Searching a whole run's log: how many lines hold a text, and a page of them with a snippet each.

One scan of the run's range finds the counters of every matching line, up to ``COUNTED_HITS`` (the total
and where the page starts come from it); the page's lines are then read by their keys. Matches past
``COUNTED_HITS`` are still reachable page by page (each page a range read from its cursor), their total is
just not counted: "1,000+ matches". The cost of a search is one read of the run's narrow rows
(``run_event_lines``) until that many matches (the whole run for a rare text: ~110 ms for 200,000 events,
bench/logs.py): counting a common text further cost more than the page (~250 ms for 10,000 hits in a
100,000-event run, against ~40 ms for 1,000, when the wide rows were read).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from playdeck.db import Executor
from playdeck.models import RunEvent
from playdeck.runs.events import matching_counters
from playdeck.runs.log_filters import LogFilter

HITS_PER_PAGE = 50
MAX_HITS_PER_PAGE = 200
COUNTED_HITS = 1_000
SNIPPET_BEFORE = 60
SNIPPET_CHARS = 200
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b")
_PAGE_ROWS = (
    select(RunEvent.counter, RunEvent.host, RunEvent.event, RunEvent.task, RunEvent.stdout)
    .where(RunEvent.run_id == bindparam("run_id"), RunEvent.counter.in_(bindparam("counters", expanding=True)))
    .order_by(RunEvent.counter)
)


@dataclass
class SearchPage:
    """``total``: matches in the whole run (at most ``COUNTED_HITS``; ``total_exact`` false beyond);
    ``first_index``: the 1-based rank of the page's first hit (None past the counted ones)."""

    total: int
    total_exact: bool
    first_index: int | None
    hits: list[dict[str, Any]]
    has_previous: bool
    has_next: bool


def snippet(stdout: str, text: str) -> str:
    """The part of the line around the first match, without colour codes (at most ``SNIPPET_CHARS``)."""
    plain = _ESCAPES.sub("", stdout)
    found = re.search(re.escape(text), plain, re.IGNORECASE)
    # The database may match what Python does not (accents ignored by the collation): show the start.
    at = found.start() if found else 0
    line_start = plain.rfind("\n", 0, at) + 1
    line_end = plain.find("\n", at)
    line_end = len(plain) if line_end == -1 else line_end
    start = max(line_start, at - SNIPPET_BEFORE)
    end = min(line_end, start + SNIPPET_CHARS)
    return ("…" if start > line_start else "") + plain[start:end] + ("…" if end < line_end else "")


def _page_counters(
    session: Executor,
    run_id: int,
    log_filter: LogFilter,
    counted: list[int],
    cursor: tuple[int, int | None],
    limit: int,
) -> tuple[list[int], int | None]:
    """The page's counters and the index of its first one among all matches (None: past the counted ones)."""
    after, before = cursor
    exact = len(counted) <= COUNTED_HITS
    counted = counted[:COUNTED_HITS]
    if before is None:
        start = bisect.bisect_right(counted, after)
        if start + limit <= len(counted) or exact:
            return counted[start : start + limit], start
        # The page runs past what was counted: read it from the cursor.
        page = matching_counters(session, run_id, log_filter, limit, after=after)
    else:
        end = bisect.bisect_left(counted, before)
        if end < len(counted) or exact:
            return counted[max(0, end - limit) : end], max(0, end - limit)
        page = matching_counters(session, run_id, log_filter, limit, before=before)
    return page, bisect.bisect_left(counted, page[0]) if page and page[0] <= counted[-1] else None


def search(
    session: Executor,
    run_id: int,
    log_filter: LogFilter,
    after: int = 0,
    before: int | None = None,
    limit: int = HITS_PER_PAGE,
) -> SearchPage:
    """The run's lines ``log_filter`` keeps (its ``text`` is required), a page after ``after`` (or just
    before ``before``) with a snippet each; the total over the whole run."""
    assert log_filter.text, "a search needs a text"
    limit = max(1, min(limit, MAX_HITS_PER_PAGE))
    # The first COUNTED_HITS + 1: one more than counted tells there are more.
    counted = matching_counters(session, run_id, log_filter, COUNTED_HITS + 1)
    page, index = _page_counters(session, run_id, log_filter, counted, (after, before), limit)
    rows = session.execute(_PAGE_ROWS, {"run_id": run_id, "counters": page}).all() if page else []
    hits = [
        {"counter": row.counter, "host": row.host, "event": row.event, "task": row.task,
         "snippet": snippet(row.stdout, log_filter.text)}
        for row in rows
    ]  # fmt: skip
    exact = len(counted) <= COUNTED_HITS
    total = min(len(counted), COUNTED_HITS)
    last_page = before is None and len(page) < limit
    return SearchPage(
        total=total,
        total_exact=exact,
        first_index=None if index is None else index + 1,
        hits=hits,
        has_previous=bool(page) and (index is None or index > 0),
        has_next=bool(page) and not last_page and ((index is not None and index + len(page) < total) or not exact),
    )
