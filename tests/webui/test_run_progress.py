"""The run page's numbers: steps (tasks and loop items) done per host of those the most similar earlier
successful run did, one estimate of the time left, and
the log read backwards from its end (the page shows a long log's tail first)."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import update

from playdeck.db import session_scope
from playdeck.models import Run, utcnow
from playdeck.runs.events import event_row, store_events
from playdeck.runs.progress import NO_BASELINE
from playdeck.runs.states import RunState
from tests.webui.webui_testing import RunDriver


def test_progress_counts_task_results_against_the_previous_successful_run(client: FlaskClient, runs: RunDriver) -> None:
    previous = runs.complete(client, events=3)  # three results on web1
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
    assert first["baseline_note"] is None
    assert {h["host"]: (h["done"], h["expected"]) for h in first["hosts"]} == {"web1": (2, 3)}
    assert (first["done"], first["expected"], first["percent"]) == (2, 3, 66)
    # One estimate: the share of the compared run's work left, times its duration.
    assert first["eta_seconds"] == 100

    runs.emit(current, range(3, 6))  # counted on from where the last answer stopped
    second = client.get(f"/api/v1/runs/{current}/progress").json
    assert {h["host"]: h["done"] for h in second["hosts"]} == {"web1": 5}
    assert second["percent"] == 99 and second["counted_through"] == 5
    assert second["eta_seconds"] is None  # more work than the compared run did: no made-up number

    runs.finish(current)
    done = client.get(f"/api/v1/runs/{current}/progress").json
    assert done["percent"] == 100 and done["eta_seconds"] is None
    # Once ended, ansible's own recap is the count on both sides (no event is read again, however long the log).
    assert {h["host"]: (h["done"], h["expected"]) for h in done["hosts"]} == {"web1": (3, 3), "web2": (3, 3)}


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
    assert progress["baseline_note"] == NO_BASELINE
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert "1 steps done" in page and NO_BASELINE in page
    assert client.get("/api/v1/runs/999999/progress").status_code == 404


def test_the_run_page_shows_progress_against_the_previous_run(client: FlaskClient, runs: RunDriver) -> None:
    previous = runs.complete(client, events=3)
    current = runs.create(client)
    runs.start(current)
    runs.emit(current, [1])
    page = client.get(f"/runs/{current}").get_data(as_text=True)
    assert f'href="/runs/{previous}">run #{previous}</a>' in page
    assert '<tr data-host="web1">' in page and "33 % · 1 of ~3 steps" in page
    assert "same limit, tags and check mode" in page
    assert 'id="log-download"' in page and f'download="run-{current}.log"' in page


def emit_kinds(run_id: int, start: int, kinds: list[tuple[str, str]]) -> None:
    """Events of the given (event, host) kinds, counters from ``start``."""
    rows = [
        event_row(run_id, {"counter": start + n, "event": event, "stdout": f"{event} {host}",
                           "event_data": {"host": host, "task": "t"}})
        for n, (event, host) in enumerate(kinds)
    ]  # fmt: skip
    with session_scope() as session:
        store_events(session, run_id, rows)


def test_loop_items_count_as_steps(client: FlaskClient, runs: RunDriver) -> None:
    """A task looping over 8 items on two hosts is 8 steps per host plus the task's own result, not 1."""
    loop = [("runner_item_on_ok", host) for host in ("web1", "web2") for _ in range(8)]
    previous = runs.create(client)
    runs.start(previous)
    tasks = [("runner_on_ok", "web1"), ("runner_on_ok", "web2")]
    emit_kinds(previous, 1, [*tasks, *loop, *tasks, ("playbook_on_stats", "")])
    runs.finish(previous)
    current = runs.create(client)
    runs.start(current)
    # The first task and 4 of the 8 items on each host: 10 of 20 steps, where counting tasks said 2 of 4.
    emit_kinds(current, 1, [("runner_on_ok", "web1"), ("runner_on_ok", "web2"), *loop[:4], *loop[8:12],
                            ("runner_on_start", "web1")])  # fmt: skip

    progress = client.get(f"/api/v1/runs/{current}/progress").json
    assert progress["previous_run_id"] == previous
    assert {h["host"]: (h["done"], h["expected"]) for h in progress["hosts"]} == {"web1": (5, 10), "web2": (5, 10)}
    assert progress["percent"] == 50


def test_the_baseline_is_the_last_successful_run_with_the_same_limit_tags_and_check(
    client: FlaskClient, runs: RunDriver
) -> None:
    same = runs.complete(client, events=4, limit="web1", tags=["app"])
    # Newer, but other work: another limit, other tags, check mode, or not successful.
    runs.complete(client, events=9, limit="web2", tags=["app"])
    runs.complete(client, events=9, limit="web1", tags=["config"])
    failed = runs.create(client, limit="web1", tags=["app"])
    runs.start(failed)
    runs.emit(failed, range(1, 10))
    runs.finish(failed, RunState.FAILED, rc=2)
    runs.complete(client, events=9, limit="web1", tags=["app"], check=True)

    current = runs.create(client, limit="web1", tags=["app"])
    runs.start(current)
    runs.emit(current, [1])
    progress = client.get(f"/api/v1/runs/{current}/progress").json
    assert (progress["previous_run_id"], progress["expected"]) == (same, 4)

    alone = runs.create(client, limit="web1", tags=["deploy"])  # queued behind the lock: progress all the same
    progress = client.get(f"/api/v1/runs/{alone}/progress").json
    assert progress["previous_run_id"] is None and progress["baseline_note"] == NO_BASELINE


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
