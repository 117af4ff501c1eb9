"""A real HTTP receiver for webhook tests: ``http.server`` on a free local port, in a thread, recording
every POST and answering with the status codes it is told to (then 200), or with what ``answer`` decides for
each request (a receiver that verifies signatures).

It listens on 127.0.0.1, which webhooks may not reach unless allowed: tests that use it allow loopback
(``allow_loopback``, or ``LOOPBACK`` as ``webhook_allowed_networks`` for ``tests.conftest.configure``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from playdeck.settings import get_settings
from tests.cli.cli_support import wait_for_items

# What tests allow PLAYDECK_WEBHOOK_ALLOWED_NETWORKS to reach: this machine only.
LOOPBACK = "127.0.0.0/8,::1/128"


def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let webhooks reach the receiver on 127.0.0.1 in this test (and the processes it starts)."""
    monkeypatch.setenv("PLAYDECK_WEBHOOK_ALLOWED_NETWORKS", LOOPBACK)
    get_settings.cache_clear()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    # Answered in order, one per request; 200 once used up.
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        return wait_for_items(self.received, self.lock, count, timeout, "requests at the receiver")


@contextmanager
def receiver(statuses: list[int] | None = None, answer: Callable[[Received], int] | None = None) -> Iterator[Receiver]:
    state = Receiver(url="", statuses=list(statuses or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got = Received(self.path, dict(self.headers.items()), body)
            with state.lock:
                state.received.append(got)
                status = state.statuses.pop(0) if state.statuses else 200
            if answer is not None:
                status = answer(got)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"receiver says no")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
