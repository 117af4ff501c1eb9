"""GET /api/v1/live: one stream for a browser's tabs, several runs in it, each resuming from its own
cursor without a gap or a duplicate; ``overview`` marks that move when the lists of runs change."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.webui.webui_testing import RunDriver, SseMessage, sse_messages
from webui import live

MANY = 1500  # more than a page, so a run's backlog is read in pages


def read_live(
    client: FlaskClient, url: str, until: Callable[[list[SseMessage]], bool] | None = None, timeout: float = 20.0
) -> list[SseMessage]:
    """The stream's messages until it closes (or ``until`` says enough)."""
    response = client.get(url, buffered=False)
    assert response.status_code == 200, response.data
    deadline = time.monotonic() + timeout
    received: list[SseMessage] = []
    try:
        for message in sse_messages(response.response):
            received.append(message)
            if until is not None and until(received):
                return received
            assert time.monotonic() < deadline, f"not done within {timeout} s: {received[-5:]}"
    finally:
        response.close()
    return received


def counters_of(messages: list[SseMessage], run_id: int) -> list[int]:
    return [m.data["counter"] for m in messages if m.event == "run_event" and m.data["run_id"] == run_id]


def test_two_runs_in_one_stream_each_from_its_own_cursor(client: FlaskClient, runs: RunDriver) -> None:
    first = runs.complete(client, events=MANY)
    second = runs.complete(client, events=10)
    messages = read_live(client, f"/api/v1/live?runs={first}:700,{second}:3")

    assert counters_of(messages, first) == list(range(701, MANY + 1))
    assert counters_of(messages, second) == list(range(4, 11))
    ends = [m.data["id"] for m in messages if m.event == "end"]
    assert sorted(ends) == sorted([first, second])
    # Each run's state comes before its lines, and its end after them.
    for run_id in (first, second):
        own = [m for m in messages if (m.data.get("run_id") or m.data.get("id")) == run_id]
        assert own[0].event == "state" and own[-1].event == "end"


def test_a_live_run_and_a_reconnect_with_the_cursors_seen_miss_nothing(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    runs.start(run_id)
    runs.emit(run_id, range(1, 6))
    seen = read_live(client, f"/api/v1/live?runs={run_id}:0", until=lambda ms: len(counters_of(ms, run_id)) == 5)

    runs.emit(run_id, range(6, 9))
    runs.finish(run_id)
    rest = read_live(client, f"/api/v1/live?runs={run_id}:{counters_of(seen, run_id)[-1]}")

    assert counters_of(seen, run_id) + counters_of(rest, run_id) == list(range(1, 9))
    assert rest[-1].event == "end"


def test_an_unknown_run_is_gone_and_the_others_go_on(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(client, events=2)
    messages = read_live(client, f"/api/v1/live?runs=31337:0,{run_id}:0")
    assert [m.data for m in messages if m.event == "gone"] == [{"run_id": 31337}]
    assert counters_of(messages, run_id) == [1, 2]


@pytest.mark.parametrize(
    ("query", "field"),
    [("runs=abc", "runs"), ("runs=1:x", "runs"), ("runs=1:99999999999", "runs"), ("", "runs"),
     ("runs=1:0&overview=maybe", "overview")],
)  # fmt: skip
def test_bad_parameters_are_a_400(client: FlaskClient, query: str, field: str) -> None:
    response = client.get(f"/api/v1/live?{query}")
    assert response.status_code == 400
    assert response.json["field"] == field


def test_too_many_runs_are_a_400(client: FlaskClient) -> None:
    many = ",".join(f"{n}:0" for n in range(1, live.MAX_RUNS + 2))
    response = client.get(f"/api/v1/live?runs={many}")
    assert response.status_code == 400
    assert "at most" in response.json["error"]


def test_the_overview_mark_moves_when_a_run_is_added_or_changes(
    client: FlaskClient, runs: RunDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "OVERVIEW_SECONDS", 0.05)
    run_id = runs.create(client)
    steps = iter([lambda: runs.start(run_id), lambda: runs.emit(run_id, [1]), lambda: runs.finish(run_id)])
    marks: list[str] = []

    def next_step(messages: list[SseMessage]) -> bool:
        news = [m.data for m in messages if m.event == "overview"]
        if len(news) > len(marks):
            marks.extend(news[len(marks) :])
            step = next(steps, None)
            if step is None:
                return True
            step()
        return False

    read_live(client, "/api/v1/live?overview=true", until=next_step)
    # One mark at the start, then a new one after each change: the run started, logged, ended.
    assert len(marks) == 4 and len(set(marks)) == 4
