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
    counters, texts = run_feed.render_events(run_id, rows)
    return (counters[-1] if counters else after), texts


class Follower:
    """One client's place in one run's stream: the last event it was sent and the state it knows.
    ``take`` hands it what is new; ``done`` once the run has ended (after ``end``) or is gone."""

    def __init__(self, run_id: int, after: int) -> None:
        self.run_id = run_id
        self.cursor = after
        self.known_state: str | None = None
        self.seen_version = -1
        self.done = False
        self.gone = False
        self.feed = run_feed.watch(run_id, after)

    def take(self, timeout: float) -> tuple[list[str], bool]:
        """The messages that are new for this client, waiting up to ``timeout`` for a change; and
        whether more are waiting already (it read a page of its backlog)."""
        news = self.feed.snapshot(self.cursor, self.seen_version, timeout=timeout)
        if news.gone:
            self.done = self.gone = True
            return [], False
        messages = []
        # The state goes first, so a client knows what it is watching before the lines arrive.
        if news.state_message is not None and news.state != self.known_state:
            self.known_state = news.state
            messages.append(news.state_message)
        if self.cursor < news.floor:
            self.cursor, texts = backlog_page(self.run_id, self.cursor)
            self.seen_version = -1  # look at the window again at once
            return messages + texts, True
        messages += news.texts
        self.cursor = news.cursor
        self.seen_version = news.version
        if news.end_message is not None:
            messages.append(news.end_message)
            self.done = True
        return messages, False

    def close(self) -> None:
        run_feed.unwatch(self.feed)


def run_event_stream(run_id: int, after: int) -> Iterator[str]:
    follower = Follower(run_id, after)
    last_write = time.monotonic()
    try:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        while not follower.done:
            wait = max(0.0, KEEPALIVE_SECONDS - (time.monotonic() - last_write))
            messages, _ = follower.take(wait)
            if messages:
                yield "".join(messages)
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= KEEPALIVE_SECONDS:
                yield KEEPALIVE
                last_write = time.monotonic()
    except GeneratorExit:
        # The server closes the generator when the client goes away; no session is open between polls.
        log.debug("client left the stream of run %s at counter %s", run_id, follower.cursor)
        raise
    finally:
        follower.close()
