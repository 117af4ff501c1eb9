"""GET /api/v1/runs/<id>/stream: Server-Sent Events that resume without a gap or a duplicate."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.statements import recorded_statements
from tests.webui.webui_testing import RunDriver, SseMessage, event_counters, read_stream, sse_messages
from webui import run_feed, stream

# More than one page of events, so the stream must read several pages back to back.
MANY = 1500


def test_a_finished_run_streams_every_event_in_order_then_end(any_client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(any_client, events=MANY)
    messages = read_stream(any_client, f"/api/v1/runs/{run_id}/stream")

    assert event_counters(messages) == list(range(1, MANY + 1))
    assert messages[0].event == "state"
    assert messages[1].data["stdout"] == "line 1"
    assert messages[-1].event == "end"
    assert len(messages) == MANY + 2
    end = messages[-1].data
    assert end["state"] == "successful"
    assert [s["host"] for s in end["host_summaries"]] == ["web1", "web2"]


@pytest.mark.parametrize("resume", ["header", "query"])
def test_resuming_after_k_sends_exactly_the_rest(client: FlaskClient, runs: RunDriver, resume: str) -> None:
    run_id = runs.complete(client, events=MANY)
    url = f"/api/v1/runs/{run_id}/stream"
    if resume == "header":
        messages = read_stream(client, url, headers={"Last-Event-ID": "700"})
    else:
        messages = read_stream(client, f"{url}?after=700")
    assert event_counters(messages) == list(range(701, MANY + 1))


def test_the_header_wins_over_the_query(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(client, events=10)
    messages = read_stream(client, f"/api/v1/runs/{run_id}/stream?after=2", headers={"Last-Event-ID": "8"})
    assert event_counters(messages) == [9, 10]


def test_events_stored_while_a_client_watches_appear_live(any_client: FlaskClient, runs: RunDriver) -> None:
    """The run moves on only once the client has seen the step before: queued, then running with three
    lines, then seven more, then the end — each arriving on the open stream, whatever the machine's load."""
    run_id = runs.create(any_client)
    seen: list = []
    progressed = threading.Condition()

    def note(message) -> None:
        with progressed:
            seen.append(message)
            progressed.notify_all()

    def client_has_seen(what: str, condition) -> None:
        with progressed:
            assert progressed.wait_for(lambda: condition(seen), timeout=20), f"the client never saw {what}"

    def worker() -> None:
        client_has_seen("the queued run", lambda ms: any(m.event == "state" for m in ms))
        runs.start(run_id)
        runs.emit(run_id, range(1, 4))
        client_has_seen(
            "the running run's lines", lambda ms: event_counters(ms)[-1:] == [3] and "running" in states(ms)
        )
        runs.emit(run_id, range(4, 11))
        client_has_seen("the later lines", lambda ms: event_counters(ms)[-1:] == [10])
        runs.finish(run_id)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        messages = read_stream(any_client, f"/api/v1/runs/{run_id}/stream", on_message=note)
    finally:
        thread.join()

    assert event_counters(messages) == list(range(1, 11))
    assert states(messages) == ["queued", "running", "successful"]
    assert messages[-1].event == "end"


def states(messages: list) -> list[str]:
    return [m.data["state"] for m in messages if m.event == "state"]


def test_a_reconnecting_client_misses_nothing(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    runs.start(run_id)
    runs.emit(run_id, range(1, 6))
    url = f"/api/v1/runs/{run_id}/stream"

    # First connection: read the five events, then drop it as a flaky network would.
    response = client.get(url, buffered=False)
    first = []
    for message in sse_messages(response.response):
        if message.event == "run_event":
            first.append(message.id)
        if len(first) == 5:
            break
    response.close()

    runs.emit(run_id, range(6, 9))
    runs.finish(run_id)
    second = read_stream(client, url, headers={"Last-Event-ID": str(first[-1])})

    assert first + event_counters(second) == list(range(1, 9))


def test_headers_say_not_to_cache_or_buffer(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(client, events=1)
    response = client.get(f"/api/v1/runs/{run_id}/stream")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.mimetype == "text/event-stream"
    assert b"id: 1\nevent: run_event\ndata: {" in response.data


def test_a_quiet_stream_sends_keepalives_and_stops_when_the_client_leaves(
    client: FlaskClient, runs: RunDriver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(stream, "KEEPALIVE_SECONDS", 0.2)
    run_id = runs.create(client)
    response = client.get(f"/api/v1/runs/{run_id}/stream", buffered=False)
    received = []
    for message in sse_messages(response.response):
        received.append(message)
        if message.comment == "keepalive":
            break
    assert received[0].event == "state" and received[0].data["state"] == "queued"

    with caplog.at_level(logging.DEBUG, logger="webui.stream"):
        response.close()
    assert f"client left the stream of run {run_id}" in caplog.text


def test_stream_of_an_unknown_run_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/runs/31337/stream")
    assert response.status_code == 404
    assert response.json["error"] == "run 31337 does not exist"


def test_a_bad_last_event_id_is_a_400(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    response = client.get(f"/api/v1/runs/{run_id}/stream", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 400
    assert response.json["field"] == "Last-Event-ID"


def test_viewers_of_one_run_share_one_db_poll(client: FlaskClient, runs: RunDriver) -> None:
    """Ten people watching a deploy cost the DB what one does: the events are read once per process. The run
    moves on once every viewer has seen the step before (not after a sleep), whatever the machine's load."""
    run_id = runs.create(client)
    runs.start(run_id)
    viewers = 10
    received: list[list[int]] = [[] for _ in range(viewers)]
    connected = threading.Barrier(viewers + 1)
    progressed = threading.Condition()

    def watch(index: int) -> None:
        def note(message: SseMessage) -> None:
            with progressed:
                received[index] = [*received[index], *event_counters([message])]
                progressed.notify_all()

        read_stream_with(client, f"/api/v1/runs/{run_id}/stream", connected, note)

    def all_have_seen(counter: int) -> None:
        with progressed:
            seen = progressed.wait_for(lambda: all(got[-1:] == [counter] for got in received), timeout=20)
            assert seen, f"not every viewer saw event {counter}: {received}"

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(viewers)]
    with recorded_statements() as statements:
        # From the first viewer on: the feed polls from then, however long the others take to connect.
        watched_from = time.monotonic()
        for thread in threads:
            thread.start()
        connected.wait(timeout=20)
        for chunk in (range(1, 6), range(6, 11)):
            runs.emit(run_id, chunk)
            all_have_seen(chunk[-1])
        runs.finish(run_id)
        for thread in threads:
            thread.join(timeout=20)
        watched = time.monotonic() - watched_from

    assert received == [list(range(1, 11))] * viewers
    event_reads = [sql for sql, _ in statements if "FROM run_events" in sql]
    # One poller: at most one read per poll interval (plus the first), where ten pollers made ten.
    assert 0 < len(event_reads) <= watched / run_feed.POLL_SECONDS + 3


def read_stream_with(
    client: FlaskClient, url: str, connected: threading.Barrier, note: Callable[[SseMessage], None]
) -> None:
    """``read_stream``, meeting the other viewers at ``connected`` once the stream has started, each message
    handed to ``note`` as it arrives."""
    response = client.get(url, buffered=False)
    started = False
    try:
        for message in sse_messages(response.response):
            if not started:
                connected.wait(timeout=20)
                started = True
            note(message)
            if message.event == "end":
                return
    finally:
        response.close()
    raise AssertionError("stream closed without end")


def test_a_viewer_far_behind_the_shared_window_reads_its_backlog_without_a_gap(
    client: FlaskClient, runs: RunDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_feed, "WINDOW", 5)
    run_id = runs.complete(client, events=MANY)
    url = f"/api/v1/runs/{run_id}/stream"
    # The first viewer starts the run's feed, which keeps only its last few messages...
    assert event_counters(read_stream(client, url)) == list(range(1, MANY + 1))
    # ...so a second one resuming far back reads the gap from the DB, then joins the feed.
    messages = read_stream(client, url, headers={"Last-Event-ID": "100"})
    assert event_counters(messages) == list(range(101, MANY + 1))
    assert messages[0].event == "state" and messages[-1].event == "end"
