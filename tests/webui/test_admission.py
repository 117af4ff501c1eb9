"""webui.admission: a web process executes a few requests at once, the rest wait their turn in order;
an open SSE stream does not keep anyone waiting."""

from __future__ import annotations

import threading
import time

from flask import Flask
from flask.testing import FlaskClient

from tests.cli.cli_support import wait_until
from tests.webui.webui_testing import RunDriver, sse_messages
from webui.admission import Admission


def test_one_slot_runs_requests_one_at_a_time_in_arrival_order() -> None:
    running, most, order = 0, 0, []
    lock = threading.Lock()
    first_may_finish = threading.Event()

    def slow_app(environ, start_response):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            order.append(environ["n"])
        if environ["n"] == 0:
            first_may_finish.wait(10)  # holds the slot until every other request waits for it
        with lock:
            running -= 1
        start_response("200 OK", [])
        return [b"ok"]

    admitted = Admission(slow_app, slots=1, patience=60)
    threads = [threading.Thread(target=admitted, args=({"n": n}, lambda *a: None)) for n in range(6)]
    threads[0].start()
    wait_until(lambda: order == [0], 10, "the first request to hold the slot")
    for n, thread in enumerate(threads[1:], start=1):
        # Each arrives only once the one before it waits for the slot: arrival order is the start order
        # even on a busy machine, where threads started 10 ms apart need not arrive in order.
        thread.start()
        wait_until(lambda n=n: waiting_for(admitted) == n, 10, f"request {n} to wait for the slot")
    first_may_finish.set()
    for thread in threads:
        thread.join(timeout=10)

    assert most == 1
    assert order == list(range(6))


def waiting_for(admission: Admission) -> int:
    """How many requests wait for a slot (the semaphore's waiters: no public count exists)."""
    return len(admission._free._cond._waiters)


def test_two_slots_let_two_requests_run_together() -> None:
    both_in = threading.Barrier(2, timeout=5)

    def meeting_app(environ, start_response):
        both_in.wait()  # raises BrokenBarrierError if the second request is kept out
        start_response("200 OK", [])
        return [b"ok"]

    admitted = Admission(meeting_app, slots=2)
    results = []
    threads = [threading.Thread(target=lambda: results.append(admitted({}, lambda *a: None))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [[b"ok"], [b"ok"]]


def test_an_open_stream_does_not_hold_the_only_slot(app: Flask, client: FlaskClient, runs: RunDriver) -> None:
    app.wsgi_app = Admission(app.wsgi_app, slots=1)  # type: ignore[method-assign]
    run_id = runs.create(client)
    stream = client.get(f"/api/v1/runs/{run_id}/stream", buffered=False)
    first = next(sse_messages(stream.response))
    assert first.event == "state" and first.data["state"] == "queued"

    # The stream is open and waiting for events; another request is answered meanwhile.
    answered = []
    other = threading.Thread(target=lambda: answered.append(client.get(f"/api/v1/runs/{run_id}").status_code))
    other.start()
    other.join(timeout=10)
    stream.close()
    assert answered == [200]


def test_a_stalled_request_keeps_the_next_one_waiting_only_so_long() -> None:
    stalled, release = threading.Event(), threading.Event()

    def app(environ, start_response):
        if environ.get("stall"):
            stalled.set()
            release.wait(10)  # a broker that does not answer
        start_response("200 OK", [])
        return [b"ok"]

    admitted = Admission(app, slots=1, patience=0.2)
    stuck = threading.Thread(target=admitted, args=({"stall": True}, lambda *a: None))
    stuck.start()
    assert stalled.wait(5)
    started = time.monotonic()
    assert admitted({}, lambda *a: None) == [b"ok"]
    waited = time.monotonic() - started
    release.set()
    stuck.join(timeout=10)
    assert 0.15 <= waited < 2
    # The slot of the stalled request came back: the next one runs at once.
    started = time.monotonic()
    admitted({}, lambda *a: None)
    assert time.monotonic() - started < 0.15
