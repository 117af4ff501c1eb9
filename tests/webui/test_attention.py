"""The "needs attention" page and API, and the explanation of one active run, as a person sees them."""

from __future__ import annotations

import datetime as dt

from flask import render_template_string
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import update

from playdeck.db import session_scope
from playdeck.models import Run, utcnow
from tests.webui.webui_testing import RunDriver

NO_WORKER = "no worker has taken it for 10 min 00 s: is a worker consuming queue 'deploy'?"


def set_times(run_id: int, **seconds_ago: float) -> None:
    """Age the run: each timestamp column set that many seconds before now."""
    now = utcnow()
    values = {column: now - dt.timedelta(seconds=seconds) for column, seconds in seconds_ago.items()}
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def stuck_and_fine_runs(client: FlaskClient, runs: RunDriver) -> dict[str, int]:
    """A run queued for 10 minutes, a run whose worker went silent, a fresh run, an ended run."""
    ended = runs.complete(client, events=1)
    set_times(ended, queued_at=7200, started_at=7200, heartbeat_at=7200)
    silent = runs.create(client, environment="production")
    runs.start(silent)
    set_times(silent, started_at=600, heartbeat_at=120)
    queued_long = runs.create(client)
    set_times(queued_long, queued_at=600)
    fresh = runs.create(client)
    return {"ended": ended, "silent": silent, "queued_long": queued_long, "fresh": fresh}


def test_api_lists_stuck_runs_with_why_and_nothing_else(any_client: FlaskClient, runs: RunDriver) -> None:
    ids = stuck_and_fine_runs(any_client, runs)

    response = any_client.get("/api/v1/attention")

    assert response.status_code == 200
    listed = [(item["run"]["id"], item["kind"], item["why"]) for item in response.json["runs"]]
    assert listed == [
        (
            ids["silent"],
            "heartbeat_stale",
            "no heartbeat from worker testhost for 2 min 00 s: the worker may be gone"
            " (a release manager can force-cancel it)",
        ),
        # The silent run still counts as running on the queue: its worker may only be slow.
        (ids["queued_long"], "workers_busy", "all workers of queue 'deploy' are busy (1 run running)"),
    ]
    first = response.json["runs"][0]
    assert first["run"]["project"] == "sampleapp" and first["run"]["state"] == "running"
    assert 599 < first["age_seconds"] < 660


def test_the_page_shows_each_stuck_run_and_why(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    set_times(run_id, queued_at=600)

    page = client.get("/attention")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f'<a href="/runs/{run_id}">#{run_id}</a>' in text
    assert str(escape(NO_WORKER)) in text
    assert 'class="badge state-queued"' in text and "10 min 00 s" in text
    assert "Nothing needs attention." not in text


def test_the_page_says_when_nothing_needs_attention(client: FlaskClient, runs: RunDriver) -> None:
    runs.create(client)  # fresh: a worker still has its chance
    runs.complete(client, events=1)

    page = client.get("/attention")

    assert page.status_code == 200
    assert "Nothing needs attention." in page.get_data(as_text=True)
    assert client.get("/api/v1/attention").json == {"runs": []}


def test_every_page_links_to_it(client: FlaskClient) -> None:
    assert '<a href="/attention">Needs attention</a>' in client.get("/runs").get_data(as_text=True)


def test_explanation_of_one_run_in_each_state(client: FlaskClient, runs: RunDriver) -> None:
    holder = runs.create(client)
    runs.start(holder)
    set_times(holder, heartbeat_at=3)
    waiting = runs.create(client)

    assert client.get(f"/api/v1/runs/{holder}/explanation").json == {
        "run_id": holder,
        "state": "running",
        "explanation": "running on worker testhost, last heartbeat 3 s ago",
    }
    assert client.get(f"/api/v1/runs/{waiting}/explanation").json["explanation"] == (
        f"waiting for run #{holder}, which holds the staging deploy lock"
    )
    runs.finish(holder)
    assert client.get(f"/api/v1/runs/{holder}/explanation").json == {
        "run_id": holder,
        "state": "successful",
        "explanation": None,
    }
    set_times(waiting, queued_at=4)
    assert client.get(f"/api/v1/runs/{waiting}/explanation").json["explanation"] == (
        "queued for 4 s, waiting for a worker on queue 'deploy'"
    )


def test_explanation_of_an_unknown_run_is_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/runs/999/explanation")
    assert response.status_code == 404
    assert response.json["error"] == "run 999 does not exist"


def test_the_run_page_line_says_why_while_active_and_nothing_once_ended(app, client, runs: RunDriver) -> None:
    """What run.html renders with ``{{ explanation_line(run_explanation(run)) }}``."""
    run_id = runs.create(client)
    set_times(run_id, queued_at=600)
    line = '{% from "_attention.html" import explanation_line %}{{ explanation_line(run_explanation(run)) }}'

    with app.test_request_context():
        active = render_template_string(line, run=client.get(f"/api/v1/runs/{run_id}").json)
        assert f'id="run-explanation">{escape(NO_WORKER)}</p>' in active and " hidden" not in active
        runs.start(run_id)
        runs.finish(run_id)
        ended = render_template_string(line, run=client.get(f"/api/v1/runs/{run_id}").json)
        assert 'id="run-explanation" hidden></p>' in ended  # kept for run.js, shown empty: nothing to explain
