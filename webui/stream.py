"""Server-Sent Events for one run: its events in counter order, its state changes, then ``end``.

The stream polls the DB with a new short session each time and holds nothing between polls, so a
viewer never pins a connection or a transaction while the run goes on. The event counter is the SSE
id: a browser that reconnects sends ``Last-Event-ID`` and resumes exactly after it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from playdeck.db import session_scope
from playdeck.events import MAX_EVENTS_PER_PAGE, events_after
from playdeck.models import Run
from playdeck.runs import get_run
from playdeck.serializers import event_json, run_json
from playdeck.states import is_terminal

log = logging.getLogger(__name__)

POLL_SECONDS = 0.15
# Proxies and load balancers close connections that stay silent for long (nginx: 60 s by default).
KEEPALIVE_SECONDS = 15.0
# How long a browser waits before reconnecting after the connection drops.
RECONNECT_MILLISECONDS = 2000
KEEPALIVE = ": keepalive\n\n"


def sse_message(event: str, data: Any, message_id: int | None = None) -> str:
    # json.dumps escapes newlines inside strings, so the data always fits one "data:" line.
    lines = [] if message_id is None else [f"id: {message_id}"]
    lines += [f"event: {event}", f"data: {json.dumps(data, separators=(',', ':'))}"]
    return "\n".join(lines) + "\n\n"


@dataclass
class Poll:
    events: list[dict[str, Any]] = field(default_factory=list)
    # The run, when its state differs from the one the client last saw.
    changed_run: dict[str, Any] | None = None
    # The run, once it is terminal and every event has been read.
    finished_run: dict[str, Any] | None = None
    gone: bool = False


def poll_run(run_id: int, after: int, known_state: str | None) -> Poll:
    with session_scope() as session:
        # The state is read before the events: once it reads terminal, the worker has stored every
        # event, so an events page that is not full is the last one.
        state = session.scalar(select(Run.state).where(Run.id == run_id))
        if state is None:
            return Poll(gone=True)
        poll = Poll()
        if state != known_state:
            poll.changed_run = run_json(get_run(session, run_id))
        poll.events = [event_json(event) for event in events_after(session, run_id, after)]
        if is_terminal(state) and len(poll.events) < MAX_EVENTS_PER_PAGE:
            poll.finished_run = poll.changed_run or run_json(get_run(session, run_id))
        return poll


def run_event_stream(run_id: int, after: int) -> Iterator[str]:
    cursor = after
    known_state: str | None = None
    last_write = time.monotonic()
    try:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        while True:
            poll = poll_run(run_id, cursor, known_state)
            if poll.gone:
                return
            messages = []
            # The state goes first, so a client knows what it is watching before the lines arrive.
            if poll.changed_run is not None:
                known_state = poll.changed_run["state"]
                messages.append(sse_message("state", poll.changed_run))
            messages += [sse_message("run_event", event, event["counter"]) for event in poll.events]
            if poll.events:
                cursor = poll.events[-1]["counter"]
            if poll.finished_run is not None:
                messages.append(sse_message("end", poll.finished_run))
            if messages:
                yield "".join(messages)
                last_write = time.monotonic()
            if poll.finished_run is not None:
                return
            if len(poll.events) == MAX_EVENTS_PER_PAGE:
                continue  # more are waiting; read them at once
            if time.monotonic() - last_write >= KEEPALIVE_SECONDS:
                yield KEEPALIVE
                last_write = time.monotonic()
            time.sleep(POLL_SECONDS)
    except GeneratorExit:
        # The server closes the generator when the client goes away; no session is open between polls.
        log.debug("client left the stream of run %s at counter %s", run_id, cursor)
        raise
