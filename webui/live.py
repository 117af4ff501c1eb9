"""One Server-Sent Events stream per browser: the events of every run its tabs watch, and a mark that
moves whenever the lists of runs would ("overview"), so the dashboard, the runs list and /attention
refresh when something happened rather than on a timer.

Browsers open at most six connections per host over HTTP/1.1; a stream per run tab locked the seventh
tab out (issue 23). The tabs of a browser share this one stream through a SharedWorker
(``webui/static/live-worker.js``, or a leader tab where SharedWorker is missing), which reconnects
with every watched run's cursor whenever the set of watched runs changes: the stream serves
``runs=ID:AFTER,...`` from those cursors, so no line is missed or sent twice. Each run is read through
its shared feed (``webui.run_feed``) exactly as ``webui.stream`` reads one; a change in any of them
wakes the stream.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator

from playdeck.db import get_sessionmaker, session_scope
from playdeck.errors import ValidationError
from playdeck.runs.queries import activity_mark
from webui.sse import KEEPALIVE, sse_message
from webui.stream import KEEPALIVE_SECONDS, RECONNECT_MILLISECONDS, Follower

log = logging.getLogger(__name__)

# More runs than anyone has tabs open; bounds the feeds one request can start.
MAX_RUNS = 64
# How often a stream that watches the overview looks at its mark; the mark is read once per process
# per period however many browsers watch.
OVERVIEW_SECONDS = 2.0
_RUN = re.compile(r"([0-9]{1,12}):([0-9]{1,10})")
MAX_COUNTER = 2**31 - 1

_mark_lock = threading.Lock()
_mark: dict[object, tuple[float, str]] = {}


def parse_runs(text: str) -> dict[int, int]:
    """``"12:340,13:0"`` -> {12: 340, 13: 0}: each run to stream and the last event counter already seen."""
    runs: dict[int, int] = {}
    for item in filter(None, text.split(",")):
        match = _RUN.fullmatch(item)
        if match is None or int(match[2]) > MAX_COUNTER:
            raise ValidationError("runs", "must be a comma-separated list of RUN_ID:AFTER (e.g. 12:340,13:0)")
        runs[int(match[1])] = int(match[2])
    if len(runs) > MAX_RUNS:
        raise ValidationError("runs", f"at most {MAX_RUNS} runs per stream")
    return runs


def overview_mark() -> str | None:
    """The activity mark (``playdeck.runs.queries.activity_mark``), read at most once per period in
    this process; None while the database cannot be read (the stream goes on with keepalives)."""
    sessions = get_sessionmaker()
    now = time.monotonic()
    with _mark_lock:
        cached = _mark.get(sessions)
        if cached is not None and now - cached[0] < OVERVIEW_SECONDS:
            return cached[1]
    try:
        with session_scope() as session:
            mark = activity_mark(session)
    except Exception:  # noqa: BLE001 - a DB outage must not end every browser's stream
        log.warning("reading the activity mark failed", exc_info=True)
        return None
    with _mark_lock:
        _mark[sessions] = (now, mark)
    return mark


def _run_messages(followers: list[Follower]) -> tuple[list[str], bool]:
    """What is new in every run still followed, and whether some run has more waiting already."""
    messages: list[str] = []
    again = False
    for follower in followers:
        if follower.done:
            continue
        texts, more = follower.take(0)
        messages += texts
        again |= more
        if follower.gone:
            messages.append(sse_message("gone", {"run_id": follower.run_id}))
    return messages, again


def live_stream(runs: dict[int, int], overview: bool) -> Iterator[str]:
    """Every watched run's ``state``/``run_event``/``end`` messages (each naming its run), ``gone`` for
    a run that no longer exists, and ``overview`` with the mark whenever it moves. Ends once every run
    has ended, unless it watches the overview."""
    followers = [Follower(run_id, after) for run_id, after in runs.items()]
    wake = threading.Event()
    for follower in followers:
        follower.feed.listen(wake)
    mark: str | None = None
    next_mark = last_write = time.monotonic()
    try:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        while True:
            # Cleared before reading: a change published meanwhile sets it again, and is not slept through.
            wake.clear()
            messages, again = _run_messages(followers)
            now = time.monotonic()
            if overview and now >= next_mark:
                next_mark = now + OVERVIEW_SECONDS
                new = overview_mark()
                if new is not None and new != mark:
                    mark = new
                    messages.append(sse_message("overview", mark))
            if messages:
                yield "".join(messages)
                last_write = now
            if not overview and all(follower.done for follower in followers):
                return
            if again:
                continue
            if now - last_write >= KEEPALIVE_SECONDS:
                yield KEEPALIVE
                last_write = now
            until = last_write + KEEPALIVE_SECONDS
            wake.wait(max(0.0, min(until, next_mark) - now if overview else until - now))
    finally:
        for follower in followers:
            follower.feed.listen(wake, on=False)
            follower.close()
