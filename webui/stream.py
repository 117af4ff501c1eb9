"""Server-Sent Events for one run: its events in counter order, its state changes, then ``end``.

The DB is polled by the run's shared feed (``webui.run_feed``: one poll for every viewer of the run in
this process), with a short session each time and nothing held between polls, so a viewer never pins
a connection or a transaction while the run goes on. The event counter is the SSE
id: a browser that reconnects sends ``Last-Event-ID`` and resumes exactly after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from playdeck.db import session_scope
from playdeck.runs.events import events_after
from webui import run_feed
from webui.sse import KEEPALIVE

log = logging.getLogger(__name__)

# Proxies and load balancers close connections that stay silent for long (nginx: 60 s by default).
KEEPALIVE_SECONDS = 15.0
# How long a browser waits before reconnecting after the connection drops.
RECONNECT_MILLISECONDS = 2000


def backlog_page(run_id: int, after: int) -> tuple[int, list[str]]:
    """One page of events after ``after`` read for this client alone (it is behind the shared window):
    the new cursor and the messages."""
    with session_scope() as session:
        rows = events_after(session, run_id, after)
    counters, texts = run_feed.render_events(rows)
    return (counters[-1] if counters else after), texts


def run_event_stream(run_id: int, after: int) -> Iterator[str]:
    cursor = after
    known_state: str | None = None
    seen_version = -1
    last_write = time.monotonic()
    feed = run_feed.watch(run_id, after)
    try:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        while True:
            wait = max(0.0, KEEPALIVE_SECONDS - (time.monotonic() - last_write))
            news = feed.snapshot(cursor, seen_version, timeout=wait)
            if news.gone:
                return
            messages = []
            # The state goes first, so a client knows what it is watching before the lines arrive.
            if news.state_message is not None and news.state != known_state:
                known_state = news.state
                messages.append(news.state_message)
            if cursor < news.floor:
                cursor, texts = backlog_page(run_id, cursor)
                messages += texts
                seen_version = -1  # look at the window again at once
            else:
                messages += news.texts
                cursor = news.cursor
                seen_version = news.version
                if news.end_message is not None:
                    messages.append(news.end_message)
            if messages:
                yield "".join(messages)
                last_write = time.monotonic()
            if news.end_message is not None and seen_version == news.version:
                return
            if time.monotonic() - last_write >= KEEPALIVE_SECONDS:
                yield KEEPALIVE
                last_write = time.monotonic()
    except GeneratorExit:
        # The server closes the generator when the client goes away; no session is open between polls.
        log.debug("client left the stream of run %s at counter %s", run_id, cursor)
        raise
    finally:
        run_feed.unwatch(feed)
