"""One DB poll per watched run and web process, shared by every SSE client of that run.

Without it each client polled the DB every 150 ms and serialised every event itself: 20 viewers of a
run meant 20× the queries and the JSON, on the cores the worker's ingestion needs too (issue 7: "no
client can make ingestion slower"). A ``RunFeed`` is a thread that polls with a short session (nothing
held between polls), renders each event's SSE message once, and keeps the recent ones in a window.
Clients read the window under a condition variable; a client behind the window (it connected with an
old ``Last-Event-ID``) reads its backlog from the DB itself, page by page, then joins the window.
One ``MarksPoller`` per process reads every watched run's state and event count in a single query and
wakes a feed only when its run moved, so many watched runs cost one light query per poll.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from playdeck.db import get_sessionmaker
from playdeck.errors import NotFound
from playdeck.models import Run
from playdeck.runs.events import MAX_EVENTS_PER_PAGE, events_after
from playdeck.runs.queries import get_run, run_state
from playdeck.runs.states import is_terminal
from playdeck.serializers import event_json, run_json
from webui.sse import sse_message

log = logging.getLogger(__name__)

POLL_SECONDS = 0.15
# Messages kept per feed: a client this far behind reads from the DB instead.
WINDOW = 2 * MAX_EVENTS_PER_PAGE
# A feed nobody watches any more stops after this long (a reconnecting browser comes back within 2 s).
LINGER_SECONDS = 10.0
# After a failed poll (DB unreachable), try again after this long; clients keep getting keepalives.
RETRY_SECONDS = 1.0
# A feed reads its run now and then even when its mark has not moved.
FALLBACK_SECONDS = 5.0


def render_events(run_id: int, rows: list[Any]) -> tuple[list[int], list[str]]:
    """The counters and the ``run_event`` SSE messages of event rows (``playdeck.runs.events.LOG_COLUMNS``).
    Each carries its run's id: one browser stream serves several runs (``webui.live``)."""
    counters, texts = [], []
    for row in rows:
        data = {**event_json(row), "run_id": run_id}
        counters.append(row.counter)
        texts.append(sse_message("run_event", data, row.counter))
    return counters, texts


@dataclass
class Snapshot:
    """What a client needs from the feed at one moment (copied under the feed's lock)."""

    floor: int  # the window holds every event with a counter above this
    state: str | None
    state_message: str | None
    texts: list[str] = field(default_factory=list)  # events after the client's cursor, in order
    cursor: int = 0  # the counter of the last of ``texts`` (the client's cursor if none)
    end_message: str | None = None
    gone: bool = False
    version: int = 0


class RunFeed(threading.Thread):
    def __init__(self, sessions: sessionmaker[Session], run_id: int, after: int) -> None:
        super().__init__(name=f"run-feed-{run_id}", daemon=True)
        # The sessions of the database the feed was started for: the key of the feed in the registry
        # (tests switch databases within one process, and run ids repeat across them).
        self.sessions = sessions
        self.run_id = run_id
        self.changed = threading.Condition()
        self.floor = after
        self.cursor = after
        self.counters: list[int] = []
        self.texts: list[str] = []
        self.state: str | None = None
        self.state_message: str | None = None
        self.end_message: str | None = None
        self.gone = False
        self.version = 0  # bumped on every change, so a client can wait for the next one
        self.watchers = 0
        self.due = threading.Event()
        self.due.set()  # the first read at once
        self._mark: object = None
        # Events set on every change, for clients that wait on several feeds at once (``webui.live``).
        self.listeners: set[threading.Event] = set()
        self.closed = False
        self._unwatched_since: float | None = None

    # --- the poller -------------------------------------------------------------------------------

    def run(self) -> None:
        while not self._retire():
            if self.gone or self.end_message:
                time.sleep(POLL_SECONDS)
                continue
            # Woken by the marks poller when the run's state or event count moved; a read now and then
            # anyway, should a change ever pass the mark by.
            self.due.wait(FALLBACK_SECONDS)
            self.due.clear()  # before reading: a change seen meanwhile sets it again
            try:
                full = self._poll()
            except Exception:  # noqa: BLE001 - a DB outage must not end every viewer's stream
                log.warning("polling run %s for its stream failed; retrying", self.run_id, exc_info=True)
                time.sleep(RETRY_SECONDS)
                self.due.set()
                continue
            if full:
                self.due.set()  # more are waiting; read them at once

    def note_mark(self, mark: tuple[str, int] | None) -> None:
        """The run's state and event count as the marks poller read them (None: the run is gone)."""
        if mark != self._mark:
            self._mark = mark
            self.due.set()

    def _poll(self) -> bool:
        """Read the state, then the events after the cursor; publish what changed. True if a page was full."""
        with self.sessions() as session:
            # The state is read before the events: once it reads terminal, the worker has stored every
            # event, so an events page that is not full is the last one.
            try:
                state = run_state(session, self.run_id)
            except NotFound:  # purged while watched
                self._publish(gone=True)
                return False
            run = run_json(get_run(session, self.run_id)) if state != self.state else None
            rows = events_after(session, self.run_id, self.cursor)
            full = len(rows) == MAX_EVENTS_PER_PAGE
            end = None
            if is_terminal(state) and not full:
                end = sse_message("end", run or run_json(get_run(session, self.run_id)))
        counters, texts = render_events(self.run_id, rows)
        self._publish(state=state, run=run, counters=counters, texts=texts, end=end)
        return full

    def _publish(self, state=None, run=None, counters=(), texts=(), end=None, gone=False) -> None:
        if not (run or counters or end or gone):
            return
        with self.changed:
            if run is not None:
                self.state, self.state_message = state, sse_message("state", run)
            if counters:
                self.counters += counters
                self.texts += texts
                self.cursor = counters[-1]
                if len(self.counters) > 2 * WINDOW:
                    cut = len(self.counters) - WINDOW
                    self.floor = self.counters[cut - 1]
                    del self.counters[:cut], self.texts[:cut]
            self.end_message = end
            self.gone = gone
            self.version += 1
            self.changed.notify_all()
            for listener in self.listeners:
                listener.set()

    def _retire(self) -> bool:
        """True once nobody has watched for LINGER_SECONDS: the feed leaves the registry and stops."""
        with _registry_lock:
            if self.watchers:
                self._unwatched_since = None
                return False
            now = time.monotonic()
            if self._unwatched_since is None:
                self._unwatched_since = now
            if now - self._unwatched_since < LINGER_SECONDS:
                return False
            self.closed = True
            _feeds.pop((self.sessions, self.run_id), None)
            return True

    # --- the clients ------------------------------------------------------------------------------

    def listen(self, listener: threading.Event, on: bool = True) -> None:
        """Set ``listener`` on every change from now on (``on``), or no longer."""
        with self.changed:
            if on:
                self.listeners.add(listener)
            else:
                self.listeners.discard(listener)

    def snapshot(self, after: int, seen_version: int, timeout: float) -> Snapshot:
        """What is new for a client at counter ``after``, waiting up to ``timeout`` for a change
        after ``seen_version``."""
        with self.changed:
            if self.version == seen_version:
                self.changed.wait(timeout)
            start = bisect.bisect_right(self.counters, after)
            texts = self.texts[start:]
            return Snapshot(
                floor=self.floor,
                state=self.state,
                state_message=self.state_message,
                texts=texts,
                cursor=self.counters[-1] if texts else after,
                end_message=self.end_message,
                gone=self.gone,
                version=self.version,
            )


_feeds: dict[tuple[sessionmaker[Session], int], RunFeed] = {}
_registry_lock = threading.Lock()


class MarksPoller(threading.Thread):
    """Reads every watched run's state and event count in one query per poll, for all the feeds of one
    database in this process, and wakes the feeds whose run moved. Twenty watched runs then cost one
    light query per poll rather than forty (issue 23: twenty open run tabs slowed every page)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(name="run-feed-marks", daemon=True)
        self.sessions = sessions

    def run(self) -> None:
        while True:
            with _registry_lock:
                feeds = {run_id: feed for (sessions, run_id), feed in _feeds.items() if sessions is self.sessions}
                if not feeds:
                    _pollers.pop(self.sessions, None)  # the next watch starts another
                    return
            try:
                with self.sessions() as session:
                    rows = session.execute(
                        select(Run.id, Run.state, Run.event_count).where(Run.id.in_(sorted(feeds)))
                    ).all()
            except Exception:  # noqa: BLE001 - the feeds read on their own meanwhile
                log.warning("reading the watched runs' marks failed; retrying", exc_info=True)
                time.sleep(RETRY_SECONDS)
                continue
            marks = {run_id: (state, count) for run_id, state, count in rows}
            for run_id, feed in feeds.items():
                feed.note_mark(marks.get(run_id))
            time.sleep(POLL_SECONDS)


_pollers: dict[sessionmaker[Session], MarksPoller] = {}


def watch(run_id: int, after: int) -> RunFeed:
    """The run's feed in this process (started if none), counted as watched until ``unwatch``."""
    sessions = get_sessionmaker()
    with _registry_lock:
        feed = _feeds.get((sessions, run_id))
        if feed is None or feed.closed:
            feed = _feeds[sessions, run_id] = RunFeed(sessions, run_id, after)
            feed.start()
        feed.watchers += 1
        if sessions not in _pollers:
            _pollers[sessions] = MarksPoller(sessions)
            _pollers[sessions].start()
        return feed


def unwatch(feed: RunFeed) -> None:
    with _registry_lock:
        feed.watchers -= 1
