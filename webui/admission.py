"""At most a few requests of a web process execute at once; the others wait their turn.

A gunicorn gthread process runs every request on its own thread, and SSE streams need many threads
(each open stream holds one). But threads that all run Python at once share one GIL: under load they
hand it back and forth at every database round trip, and some requests wait behind the others many
times over (issue 7: with 20 clients, /healthz answered in 18 ms at the median and 415 ms at p99).
Admitting a few requests at a time, first come first served, lets each one run to its end while the
rest wait without contending.

A request that stalls (a broker that does not answer, a lock wait) must not stall its process: one
that has waited ``patience`` seconds for a slot runs anyway, as every request did before.

Only the view is admitted: a streamed body (an SSE stream, a log download) is iterated by gunicorn
after the view returns, outside the slot, so an open stream never keeps a request waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


# Under load a request waits tens of milliseconds for its turn; a second means the slots are stuck.
PATIENCE_SECONDS = 1.0


class Admission:
    """WSGI middleware: ``slots`` requests run ``app`` at once; the next waits for one to finish, or
    for ``patience`` seconds at most."""

    def __init__(self, app: WsgiApp, slots: int, patience: float = PATIENCE_SECONDS) -> None:
        if slots < 1:
            raise ValueError("a web process needs at least one request slot")
        self.app = app
        self.patience = patience
        # Condition.notify wakes the longest waiter: the order is the order requests arrived in.
        self._free = threading.BoundedSemaphore(slots)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        admitted = self._free.acquire(timeout=self.patience)
        try:
            return self.app(environ, start_response)
        finally:
            if admitted:
                self._free.release()
