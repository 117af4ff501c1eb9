"""Helpers for the web tests: a driver that moves runs along through the same services a worker uses,
and readers for the real broker and for Server-Sent Events.

Named ``webui_testing`` (not ``helpers``) because test folders share one import namespace."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import redis
from flask.testing import FlaskClient
from sqlalchemy import func, select

from playdeck.db import session_scope
from playdeck.models import Run
from playdeck.runs.events import event_row, store_events
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run, record_host_summaries
from playdeck.settings import Settings
from tests.conftest import as_user

RUN = {"project": "sampleapp", "environment": "staging", "version": "1.2.3"}
# ansible's playbook_on_stats shape, as a worker records it when a run ends.
HOST_STATS = {"ok": {"web1": 3, "web2": 2}, "changed": {"web1": 1}, "failures": {"web2": 1}}


def run_count() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Run)) or 0


def broker_messages(settings: Settings) -> list[tuple[str, list[Any]]]:
    """``(task name, args)`` of every message waiting in the real broker's deploy queue."""
    if settings.is_embedded_broker:
        raw = [path.read_bytes() for path in sorted((settings.broker_dir / "out").glob("*.msg"))]
    else:
        raw = redis.Redis.from_url(settings.broker_url).lrange("deploy", 0, -1)
    messages = []
    for envelope in map(json.loads, raw):
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        messages.append((envelope["headers"]["task"], args))
    return messages


class RunDriver:
    """Moves a run through its life with the services a worker calls, each in its own session."""

    def create(self, client: FlaskClient, by: str | None = None, **fields: Any) -> int:
        """``by``: requested by this user (an admin, created if missing) instead of the client's."""
        headers = as_user(by) if by else None
        response = client.post("/api/v1/runs", json={**RUN, **fields}, headers=headers)
        assert response.status_code == 201, response.json
        return response.json["id"]

    def start(self, run_id: int) -> None:
        with session_scope() as session:
            assert claim_run(session, run_id, "testhost", 123)

    def emit(self, run_id: int, counters: Iterable[int]) -> None:
        rows = [
            event_row(
                run_id,
                {
                    "counter": n,
                    "uuid": str(uuid.uuid4()),
                    "event": "runner_on_ok",
                    "stdout": f"line {n}",
                    "event_data": {"host": "web1", "task": "t"},
                },
            )
            for n in counters
        ]
        with session_scope() as session:
            store_events(session, run_id, rows)

    def finish(self, run_id: int, state: RunState = RunState.SUCCESSFUL, rc: int = 0) -> None:
        with session_scope() as session:
            record_host_summaries(
                session,
                run_id,
                {"ok": {"web1": 3, "web2": 2}, "changed": {"web1": 1}, "failures": {"web2": 1}},
            )
            assert finish_run(session, run_id, state, rc=rc)

    def complete(self, client: FlaskClient, events: int, **fields: Any) -> int:
        """A run that ran ``events`` events and succeeded."""
        run_id = self.create(client, **fields)
        self.start(run_id)
        self.emit(run_id, range(1, events + 1))
        self.finish(run_id)
        return run_id


@dataclass
class SseMessage:
    event: str = "message"
    data: Any = None
    id: int | None = None
    comment: str | None = None


def sse_messages(chunks: Iterable[bytes]) -> Iterator[SseMessage]:
    """Parse a text/event-stream as it arrives, one message per blank-line-terminated block."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode()
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            message = SseMessage()
            for line in block.split("\n"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    message.comment = value
                elif name == "id":
                    message.id = int(value)
                elif name == "event":
                    message.event = value
                elif name == "data":
                    message.data = json.loads(value)
            if message.event != "message" or message.comment is not None:
                yield message


def read_stream(
    client: FlaskClient,
    url: str,
    timeout: float = 20.0,
    on_message: Callable[[SseMessage], None] | None = None,
    **kwargs: Any,
) -> list[SseMessage]:
    """Every message of an SSE response up to and including ``end`` (fails after ``timeout``);
    ``on_message`` sees each one as it arrives."""
    response = client.get(url, buffered=False, **kwargs)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    deadline = time.monotonic() + timeout
    received = []
    try:
        for message in sse_messages(response.response):
            received.append(message)
            if on_message is not None:
                on_message(message)
            if message.event == "end":
                return received
            assert time.monotonic() < deadline, f"no end within {timeout} s: {received[-5:]}"
    finally:
        response.close()
    raise AssertionError(f"stream closed without end: {received[-5:]}")


def event_counters(messages: list[SseMessage]) -> list[int]:
    return [m.id for m in messages if m.event == "run_event"]
