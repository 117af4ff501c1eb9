"""The run page's numbers: tasks done per host of those the previous successful run did, an ETA, and
the log read backwards from its end (the page shows a long log's tail first)."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import update

from playdeck.db import session_scope
from playdeck.models import Run, utcnow
from tests.webui.webui_testing import RunDriver


def test_progress_counts_task_results_against_the_previous_successful_run(client: FlaskClient, runs: RunDriver) -> None:
    previous = runs.complete(client, events=3)  # recap: web1 3 tasks, web2 2 ok + 1 failed
    with session_scope() as session:
        started = utcnow() - dt.timedelta(seconds=600)
        session.execute(
            update(Run)
            .where(Run.id == previous)
            .values(started_at=started, finished_at=started + dt.timedelta(seconds=300))
        )
    current = runs.create(client)
    runs.start(current)
    runs.emit(current, range(1, 3))  # two results on web1

    first = client.get(f"/api/v1/runs/{current}/progress").json

    assert first["previous_run_id"] == previous and first["previous_duration_seconds"] == 300
    assert {h["host"]: (h["done"], h["expected"]) for h in first["hosts"]} == {"web1": (2, 3), "web2": (0, 3)}
    assert (first["done"], first["expected"], first["percent"]) == (2, 6, 33)
    assert 0 < first["eta_seconds"] <= 300

    runs.emit(current, range(3, 6))  # counted on from where the last answer stopped
    second = client.get(f"/api/v1/runs/{current}/progress").json
    assert {h["host"]: h["done"] for h in second["hosts"]} == {"web1": 5, "web2": 0}
    assert second["percent"] == 83 and second["counted_through"] == 5

    runs.finish(current)
    done = client.get(f"/api/v1/runs/{current}/progress").json
    assert done["percent"] == 100 and done["eta_seconds"] is None
    # Once ended, ansible's own recap is the count (no event is read again, however long the log).
    assert {h["host"]: h["done"] for h in done["hosts"]} == {"web1": 3, "web2": 3}


def test_a_first_run_has_no_expected_work(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    runs.start(run_id)
    runs.emit(run_id, [1])
    progress = client.get(f"/api/v1/runs/{run_id}/progress").json
    assert (progress["done"], progress["expected"], progress["percent"], progress["eta_seconds"]) == (
        1,
        None,
        None,
        None,
    )
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert "1 tasks done" in page and "no earlier successful run" in page
    assert client.get("/api/v1/runs/999999/progress").status_code == 404


def test_the_run_page_shows_progress_against_the_previous_run(client: FlaskClient, runs: RunDriver) -> None:
    previous = runs.complete(client, events=3)
    current = runs.create(client)
    runs.start(current)
    runs.emit(current, [1])
    page = client.get(f"/runs/{current}").get_data(as_text=True)
    assert f'href="/runs/{previous}">run #{previous}</a>' in page
    assert '<tr data-host="web1">' in page and "16 % · 1 of ~6 tasks" in page
    assert 'id="log-download"' in page and f'download="run-{current}.log"' in page


def test_events_before_a_counter_page_backwards(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(client, events=10)

    tail = client.get(f"/api/v1/runs/{run_id}/events?before=2147483647&limit=4").json
    earlier = client.get(f"/api/v1/runs/{run_id}/events?before=7&limit=4").json
    first = client.get(f"/api/v1/runs/{run_id}/events?before=3&limit=4").json

    assert [e["counter"] for e in tail["events"]] == [7, 8, 9, 10]
    assert [e["counter"] for e in earlier["events"]] == [3, 4, 5, 6]
    assert [e["counter"] for e in first["events"]] == [1, 2]
    both = client.get(f"/api/v1/runs/{run_id}/events?before=5&after=1")
    assert both.status_code == 400 and "either after or before" in both.json["error"]


def test_the_raw_log_is_a_download_of_every_line(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(client, events=1500)  # more than one page of events
    response = client.get(f"/runs/{run_id}/log.txt")
    assert response.headers["Content-Disposition"] == f'inline; filename="run-{run_id}.log"'
    assert response.get_data(as_text=True).splitlines() == [f"line {n}" for n in range(1, 1501)]
