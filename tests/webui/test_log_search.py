"""The whole run's log searched and filtered server-side: GET /api/v1/runs/<id>/events/search, and the
``host`` and ``status`` filters of GET /api/v1/runs/<id>/events. On SQLite and on MariaDB."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from playdeck.db import session_scope
from playdeck.runs import log_search
from playdeck.runs.events import event_row, store_events
from tests.conftest import web_client
from tests.webui.webui_testing import RunDriver

SEARCH = "/api/v1/runs/{}/events/search"


def store(run_id: int, events: list[dict[str, Any]]) -> None:
    """``events``: dicts of ``counter``, ``stdout`` and optionally ``event``, ``host``, ``changed``."""
    rows = [
        event_row(
            run_id,
            {
                "counter": event["counter"],
                "uuid": str(uuid.uuid4()),
                "event": event.get("event", "runner_on_ok"),
                "stdout": event["stdout"],
                "event_data": {
                    "host": event.get("host", "web1"),
                    "task": "t",
                    "res": {"changed": event.get("changed", False), "msg": event.get("msg", "")},
                },
            },
        )
        for event in events
    ]
    with session_scope() as session:
        store_events(session, run_id, rows)


def finished_run(client: FlaskClient, runs: RunDriver, events: list[dict[str, Any]]) -> int:
    run_id = runs.create(client)
    runs.start(run_id)
    store(run_id, events)
    runs.finish(run_id)
    return run_id


def lines(texts: list[str], **fields: Any) -> list[dict[str, Any]]:
    return [{"counter": n, "stdout": text, **fields} for n, text in enumerate(texts, start=1)]


def search(client: FlaskClient, run_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(SEARCH.format(run_id), query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def counters(found: dict[str, Any]) -> list[int]:
    return [hit["counter"] for hit in found["hits"]]


def test_a_search_finds_text_far_before_the_loaded_tail(any_client: FlaskClient, runs: RunDriver) -> None:
    texts = [f"\x1b[0;32mok: [web1] => (item=pkg-{n})\x1b[0m" for n in range(1, 1201)]
    texts[16] = "\x1b[0;31mfatal: [web1]: FAILED! => the needle in the haystack, deep down\x1b[0m"
    run_id = finished_run(any_client, runs, lines(texts))
    tail = any_client.get(f"/api/v1/runs/{run_id}/events?before=2147483647").json["events"]
    assert all("needle" not in event["stdout"] for event in tail)  # what the page shows first

    found = search(any_client, run_id, q="NEEDLE in the")
    assert (found["total"], found["total_exact"], found["first_index"]) == (1, True, 1)
    [hit] = found["hits"]
    assert hit["counter"] == 17 and hit["host"] == "web1"
    # Without colour codes, around the match.
    assert hit["snippet"] == "fatal: [web1]: FAILED! => the needle in the haystack, deep down"
    assert (found["has_previous"], found["has_next"]) == (False, False)


def test_a_text_that_is_nowhere_has_no_match(any_client: FlaskClient, runs: RunDriver) -> None:
    run_id = finished_run(any_client, runs, lines(["one", "two"]))
    found = search(any_client, run_id, q="three")
    assert (found["total"], found["hits"], found["first_index"]) == (0, [], 1)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("%", [1]),
        ("100%", [1]),
        ("_", [2]),
        ("a_b", [2]),  # not "axb"
        ("/", [5]),  # the pattern's own escape character
        ("C:\\temp", [4]),
        ("(a+)+$", [6]),
        (".*", [7]),
        ("[x]", [8]),
        ("' OR '1'='1", [9]),
    ],
)
def test_wildcards_and_regex_looking_text_are_literal(
    any_client: FlaskClient, runs: RunDriver, query: str, expected: list[int]
) -> None:
    texts = ["100% done", "a_b", "axb", "C:\\temp\\x", "path a/b", "(a+)+$ again", "any .* thing", "[x] box",
             "' OR '1'='1 quoted", "plain"]  # fmt: skip
    run_id = finished_run(any_client, runs, lines(texts))
    assert counters(search(any_client, run_id, q=query)) == expected


def test_hits_are_paged_and_counted_over_the_whole_run(any_client: FlaskClient, runs: RunDriver) -> None:
    # 120 matches among 600 lines: every fifth.
    texts = [f"deploy step {n}" if n % 5 == 0 else f"other {n}" for n in range(1, 601)]
    run_id = finished_run(any_client, runs, lines(texts))
    first = search(any_client, run_id, q="deploy step")
    assert (first["total"], first["first_index"], len(first["hits"])) == (120, 1, 50)
    assert counters(first)[:2] == [5, 10] and (first["has_previous"], first["has_next"]) == (False, True)

    second = search(any_client, run_id, q="deploy step", after=counters(first)[-1])
    assert (second["first_index"], counters(second)[0]) == (51, 255)
    third = search(any_client, run_id, q="deploy step", after=counters(second)[-1])
    assert (third["first_index"], len(third["hits"]), third["has_next"]) == (101, 20, False)

    back = search(any_client, run_id, q="deploy step", before=counters(second)[0])
    assert counters(back) == counters(first) and back["first_index"] == 1
    assert len(search(any_client, run_id, q="deploy step", limit=7)["hits"]) == 7


def test_hits_are_counted_up_to_a_thousand(any_client: FlaskClient, runs: RunDriver) -> None:
    run_id = finished_run(any_client, runs, lines([f"step {n}" for n in range(1, 1002)]))
    found = search(any_client, run_id, q="step", after=950)
    assert (found["total"], found["total_exact"], found["first_index"]) == (1000, False, 951)
    assert counters(found) == list(range(951, 1001)) and found["has_next"]
    beyond = search(any_client, run_id, q="step", after=1000)
    assert (counters(beyond), beyond["first_index"], beyond["has_next"]) == ([1001], None, False)
    exact = search(any_client, run_id, q="step", before=1001, limit=3)
    assert (exact["total"], counters(exact), exact["first_index"]) == (1000, [998, 999, 1000], 998)


def test_past_the_counted_hits_pages_still_follow(
    client: FlaskClient, runs: RunDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_search, "COUNTED_HITS", 5)
    run_id = finished_run(client, runs, lines([f"hit {n}" for n in range(1, 13)]))
    first = search(client, run_id, q="hit", limit=4)
    assert (first["total"], first["total_exact"], counters(first)) == (5, False, [1, 2, 3, 4])
    second = search(client, run_id, q="hit", limit=4, after=4)
    assert (counters(second), second["first_index"], second["has_next"]) == ([5, 6, 7, 8], 5, True)
    third = search(client, run_id, q="hit", limit=4, after=8)
    assert (counters(third), third["first_index"], third["has_next"]) == ([9, 10, 11, 12], None, True)
    assert search(client, run_id, q="hit", limit=4, after=12)["hits"] == []
    assert counters(search(client, run_id, q="hit", limit=4, before=9)) == [5, 6, 7, 8]


def outcomes(run_id: int) -> None:
    """Counters 1–6: web1 ok, web2 changed, web1 failed, web2 unreachable, web1 skipped, web2 ok (item)."""
    store(run_id, [
        {"counter": 1, "stdout": "ok: [web1]", "host": "web1"},
        {"counter": 2, "stdout": "changed: [web2]", "host": "web2", "changed": True},
        {"counter": 3, "stdout": "fatal: [web1]: FAILED!", "host": "web1", "event": "runner_on_failed"},
        {"counter": 4, "stdout": "fatal: [web2]: UNREACHABLE!", "host": "web2", "event": "runner_on_unreachable"},
        {"counter": 5, "stdout": "skipping: [web1]", "host": "web1", "event": "runner_on_skipped"},
        {"counter": 6, "stdout": "ok: [web2] => (item=a)", "host": "web2", "event": "runner_item_on_ok"},
    ])  # fmt: skip


def event_counters(client: FlaskClient, run_id: int, **params: Any) -> list[int]:
    response = client.get(f"/api/v1/runs/{run_id}/events", query_string=params)
    assert response.status_code == 200, response.json
    return [event["counter"] for event in response.json["events"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"host": "web2"}, [2, 4, 6]),
        ({"host": "web3"}, []),
        ({"status": "failed"}, [3]),
        ({"status": "unreachable,failed"}, [3, 4]),
        ({"status": "changed"}, [2]),
        ({"status": "ok"}, [1, 6]),
        ({"status": "skipped"}, [5]),
        ({"status": "ok,changed"}, [1, 2, 6]),
        ({"host": "web1", "status": "failed,skipped"}, [3, 5]),
        ({"host": "web2", "status": "ok", "before": 6}, []),
        ({"status": "failed,unreachable", "limit": 1}, [3]),  # the page's "jump to first failure"
        ({"status": "failed,unreachable", "after": 3}, [4]),
    ],
)
def test_events_are_filtered_by_host_and_status(
    any_client: FlaskClient, runs: RunDriver, params: dict[str, Any], expected: list[int]
) -> None:
    run_id = runs.create(any_client)
    runs.start(run_id)
    outcomes(run_id)
    assert event_counters(any_client, run_id, **params) == expected


def test_a_search_keeps_to_the_filter(any_client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(any_client)
    runs.start(run_id)
    outcomes(run_id)
    assert counters(search(any_client, run_id, q="web", host="web2")) == [2, 4, 6]
    assert counters(search(any_client, run_id, q="fatal", status="unreachable")) == [4]
    assert search(any_client, run_id, q="fatal", host="web1", status="unreachable")["total"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "q"),
        ("q=", "q"),
        ("q=%20%20", "q"),
        (f"q={'x' * 201}", "q"),
        ("q=x&status=broken", "status"),
        ("q=x&status=failed,", None),
        (f"q=x&host={'h' * 256}", "host"),
        ("q=x&after=-1", "after"),
        ("q=x&after=1&before=2", "before"),
        ("q=x&limit=0", "limit"),
        ("q=x&limit=201", "limit"),
        ("q=x&before=99999999999", "before"),
    ],
)
def test_bad_search_parameters_are_a_400(client: FlaskClient, runs: RunDriver, query: str, field: str | None) -> None:
    run_id = finished_run(client, runs, lines(["x"]))
    response = client.get(f"{SEARCH.format(run_id)}?{query}")
    if field is None:  # a trailing comma is harmless
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.json
    assert response.json["field"] == field


def test_searching_an_unknown_run_is_a_404(client: FlaskClient) -> None:
    response = client.get(SEARCH.format(42) + "?q=x")
    assert response.status_code == 404
    assert response.json["error"] == "run 42 does not exist"


def test_a_viewer_searches_and_a_stranger_does_not(app: Flask, client: FlaskClient, runs: RunDriver) -> None:
    run_id = finished_run(client, runs, lines(["secret sauce"]))
    assert counters(search(web_client("vera", "viewer"), run_id, q="sauce")) == [1]
    stranger = app.test_client()
    response = stranger.get(SEARCH.format(run_id) + "?q=sauce")
    assert response.status_code == 401 and "sauce" not in response.get_data(as_text=True)
