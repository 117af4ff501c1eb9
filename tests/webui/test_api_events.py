"""GET /api/v1/runs/<id>/events: a cursor over a run's events in counter order."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.webui.webui_testing import RunDriver


def _page(client: FlaskClient, run_id: int, query: str = "") -> dict:
    response = client.get(f"/api/v1/runs/{run_id}/events?{query}")
    assert response.status_code == 200, response.json
    return response.json


def test_the_cursor_walks_every_event_once(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(client, events=7)
    seen, after = [], 0
    while True:
        page = _page(client, run_id, f"after={after}&limit=3")
        seen += [event["counter"] for event in page["events"]]
        assert page["next_after"] == (page["events"][-1]["counter"] if page["events"] else after)
        after = page["next_after"]
        if page["terminal"] and len(page["events"]) < 3:
            break
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    assert page["run_state"] == "successful"


def test_an_event_carries_its_output(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(client, events=2)
    [event] = _page(client, run_id, "after=1")["events"]
    assert (event["counter"], event["stdout"], event["host"], event["event"]) == (2, "line 2", "web1", "runner_on_ok")


def test_an_empty_page_keeps_the_cursor(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    runs.start(run_id)
    runs.emit(run_id, [1, 2])
    page = _page(client, run_id, "after=2")
    assert page == {"events": [], "next_after": 2, "run_state": "running", "terminal": False}


@pytest.mark.parametrize(
    "query", ["after=-1", "after=x", "limit=0", "limit=1001", "status=fail", "status=FAILED", f"host={'h' * 256}"]
)
def test_bad_cursor_parameters_are_a_400(client: FlaskClient, runs: RunDriver, query: str) -> None:
    run_id = runs.create(client)
    response = client.get(f"/api/v1/runs/{run_id}/events?{query}")
    assert response.status_code == 400
    assert response.json["field"] == query.split("=")[0]


def test_events_of_an_unknown_run_are_a_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/runs/42/events")
    assert response.status_code == 404
    assert response.json["error"] == "run 42 does not exist"


def test_a_page_is_200_events_unless_more_are_asked_for(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(client, events=1001)
    default = _page(client, run_id)
    assert [event["counter"] for event in default["events"]] == list(range(1, 201))
    assert default["next_after"] == 200
    assert len(_page(client, run_id, "after=200&limit=1000")["events"]) == 801
