"""``/metrics``: Prometheus's text format (parsed by Prometheus's own client parser), computed from the DB —
runs by state, queue depth, the duration histogram, event lag, workers online — on SQLite and MariaDB
(their date arithmetic differs), and only for callers with a token."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from playdeck import db, workers
from playdeck.models import Run, RunEvent, utcnow
from playdeck.runs.states import RunState
from playdeck.settings import Settings
from tests.conftest import as_user, web_client
from tests.webui.webui_testing import RunDriver


def scrape(client: FlaskClient) -> dict[str, dict[tuple, float]]:
    """``{sample name: {sorted label items: value}}``."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain" and "version=0.0.4" in response.content_type
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def set_times(run_id: int, **times: dt.datetime) -> None:
    with db.session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**times))


def test_metrics_count_runs_queues_durations_lag_and_workers(any_client: FlaskClient, runs: RunDriver):
    now = utcnow()
    quick, slow, failed, running = (runs.create(any_client) for _ in range(4))
    queued = runs.create(any_client, environment="production")
    for run_id, state in ((quick, RunState.SUCCESSFUL), (slow, RunState.SUCCESSFUL), (failed, RunState.FAILED)):
        runs.start(run_id)
        runs.finish(run_id, state, rc=0 if state is RunState.SUCCESSFUL else 2)
    runs.start(running)
    runs.emit(running, [1, 2])
    # Known durations: 3 s, 100 s and 2000 s; the running run's newest event was created 30 s ago.
    set_times(quick, started_at=now - dt.timedelta(seconds=3), finished_at=now)
    set_times(slow, started_at=now - dt.timedelta(seconds=100), finished_at=now)
    set_times(failed, started_at=now - dt.timedelta(seconds=2000), finished_at=now)
    with db.session_scope() as session:
        session.execute(update(Run).where(Run.id == running).values(started_at=now - dt.timedelta(seconds=60)))
        session.execute(update(RunEvent).where(RunEvent.run_id == running, RunEvent.counter == 1)
                        .values(created=now - dt.timedelta(seconds=50)))  # fmt: skip
        session.execute(update(RunEvent).where(RunEvent.run_id == running, RunEvent.counter == 2)
                        .values(created=now - dt.timedelta(seconds=30)))  # fmt: skip
        workers.register(session, name="deploy@h1", hostname="h1", pid=1, queues=["deploy"], concurrency=2)
        gone = workers.register(session, name="deploy@h2", hostname="h2", pid=2, queues=["deploy"], concurrency=4)
        gone.heartbeat_at = now - dt.timedelta(hours=1)
    assert queued

    metrics = scrape(any_client)

    assert metrics["playdeck_runs"] == {
        (("kind", "deploy"), ("state", "successful")): 2,
        (("kind", "deploy"), ("state", "failed")): 1,
        (("kind", "deploy"), ("state", "running")): 1,
        (("kind", "deploy"), ("state", "queued")): 1,
    }
    assert metrics["playdeck_queue_runs_queued"][(("queue", "deploy"),)] == 1
    assert metrics["playdeck_queue_runs_queued"][(("queue", "dns"),)] == 0
    assert metrics["playdeck_queue_oldest_run_age_seconds"][(("queue", "deploy"),)] >= 0
    buckets = metrics["playdeck_run_duration_seconds_bucket"]
    successful = {dict(labels)["le"]: value for labels, value in buckets.items() if ("state", "successful") in labels}
    assert (successful["1.0"], successful["5.0"], successful["60.0"], successful["120.0"], successful["+Inf"]) == (
        0, 1, 1, 2, 2
    )  # fmt: skip
    assert list(successful.values()) == sorted(successful.values())  # cumulative
    labels = (("kind", "deploy"), ("state", "successful"))
    assert metrics["playdeck_run_duration_seconds_count"][labels] == 2
    assert metrics["playdeck_run_duration_seconds_sum"][labels] == pytest.approx(103, abs=0.01)
    failed_buckets = {dict(k)["le"]: v for k, v in buckets.items() if ("state", "failed") in k}
    assert (failed_buckets["1800.0"], failed_buckets["3600.0"]) == (0, 1)
    # 30 s since the newest stored event of the one running run (plus the time the scrape took).
    assert 30 <= metrics["playdeck_event_ingestion_lag_seconds"][()] < 50
    assert metrics["playdeck_workers_online"] == {(("state", "active"),): 1, (("state", "draining"),): 0}
    assert metrics["playdeck_worker_slots"][()] == 2


def test_each_environment_reports_the_version_it_runs(any_client: FlaskClient, runs: RunDriver):
    first, second, broken, queued = (runs.create(any_client, version=v) for v in ("1.0", "1.1", "1.2", "1.3"))
    dry_run_check = runs.create(any_client, version="9.9", check=True)
    production = runs.create(any_client, environment="production", version="0.9")
    for run_id, state in ((first, RunState.SUCCESSFUL), (second, RunState.SUCCESSFUL), (broken, RunState.FAILED),
                          (dry_run_check, RunState.SUCCESSFUL), (production, RunState.SUCCESSFUL)):  # fmt: skip
        runs.start(run_id)
        runs.finish(run_id, state, rc=0 if state is RunState.SUCCESSFUL else 2)
    finished = utcnow().replace(microsecond=0)
    set_times(second, finished_at=finished)
    # As a git project's deploy records them when queued (tests/git cover the resolving itself).
    with db.session_scope() as session:
        session.execute(update(Run).where(Run.id == second).values(ref="v1.1", commit_sha="3f2a9c1d0e4b" + "0" * 28))
    assert queued  # never started: it is not what runs there

    deployed = scrape(any_client)["playdeck_deployed_version_finished_timestamp_seconds"]

    staging = (("commit", "3f2a9c1d0e4b"), ("environment", "staging"), ("project", "sampleapp"), ("ref", "v1.1"),
               ("version", "1.1"))  # fmt: skip
    assert deployed[staging] == finished.replace(tzinfo=dt.UTC).timestamp()
    assert {dict(labels)["environment"]: dict(labels)["version"] for labels in deployed} == {
        "staging": "1.1",
        "production": "0.9",
    }


def test_an_idle_install_reports_zeros(client: FlaskClient):
    metrics = scrape(client)
    assert metrics["playdeck_event_ingestion_lag_seconds"][()] == 0
    assert metrics["playdeck_queue_runs_queued"] == {(("queue", "deploy"),): 0, (("queue", "dns"),): 0}
    assert metrics["playdeck_workers_online"][(("state", "active"),)] == 0
    # The embedded filesystem broker has no message count to report.
    assert "playdeck_broker_queue_messages" not in metrics


def test_the_redis_broker_reports_its_waiting_messages(production: Settings, runs: RunDriver):
    client = web_client()
    runs.create(client)
    runs.create(client)
    metrics = scrape(client)
    assert metrics["playdeck_broker_up"][()] == 1
    assert metrics["playdeck_broker_queue_messages"][(("queue", "deploy"),)] == 2
    assert metrics["playdeck_queue_runs_queued"][(("queue", "deploy"),)] == 2


def test_metrics_need_a_token_and_a_viewer_may_scrape(app):
    client = app.test_client()
    assert client.get("/metrics").status_code == 302  # a browser is sent to the login page
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers=as_user("prometheus", "viewer")).status_code == 200
