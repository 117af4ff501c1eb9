"""Fault matrix #6: MariaDB restarted in the middle of a run. The run completes and no event is lost:
the worker keeps events in memory while the DB is away and writes them once it is back — also when the
playbook ends while the DB is still down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playdeck import db, projects
from playdeck.runs.events import events_after
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.settings import Settings
from testing import fault_report
from tests.conftest import TERMINAL, configure_test_playbooks, queue_run, wait_for_state
from tests.runners.test_cancel import wait_until


@pytest.fixture
def restartable_mariadb(throwaway_mariadb):
    return throwaway_mariadb()


@pytest.fixture
def chatty(monkeypatch, tmp_path, restartable_mariadb, redis_url, start_worker):
    """Settings for the chatty playbook on the restartable server, and a worker (1 slot) running."""
    settings = configure_test_playbooks(monkeypatch, tmp_path, restartable_mariadb.url, redis_url)
    with db.session_scope() as session:
        projects.add_project(session, "chatty", "chatty.yml", {"dev": "local2.ini"})
    return settings, start_worker(concurrency=1)


def start_chatty(ticks: int) -> int:
    run_id = queue_run(RunRequest(project="chatty", environment="dev", extra_vars={"ticks": ticks})).id
    assert wait_for_state(run_id, {"running"}) == "running"
    wait_until(lambda: stored(run_id) >= 5, 60, "the first events to be stored")
    return run_id


def stored(run_id: int) -> int:
    with db.session_scope() as session:
        return get_run(session, run_id).event_count


def produced_events(settings: Settings, run_id: int) -> list[dict]:
    """What ansible-runner produced for the run, from its artifacts, in counter order."""
    job_events = settings.runs_dir / str(run_id) / "attempt-1" / "artifacts" / "artifacts" / "job_events"
    # <uuid>-partial.json files are ansible-runner's half of an event still being written.
    files = [p for p in Path(job_events).glob("*.json") if not p.name.endswith("-partial.json")]
    return sorted((json.loads(p.read_text()) for p in files), key=lambda e: e["counter"])


def assert_every_event_stored_once(settings: Settings, run_id: int, at_least: int) -> None:
    produced = [event["counter"] for event in produced_events(settings, run_id)]
    with db.session_scope() as session:
        persisted = [event.counter for event in events_after(session, run_id, 0, limit=1000)]
        assert get_run(session, run_id).event_count == len(persisted)
    assert persisted == produced and len(produced) > at_least  # every event, once, in order


def test_run_survives_a_database_restart_without_losing_events(chatty, restartable_mariadb):
    settings, worker = chatty
    run_id = start_chatty(ticks=40)
    restartable_mariadb.stop()  # events keep coming while the DB is down
    wait_until(lambda: "DB write failed; will retry" in worker.output(), 60, "the outage to hit the event writes")
    restartable_mariadb.start()
    db.reset_engine()  # this test process's own pool held connections to the old server

    assert wait_for_state(run_id, TERMINAL, timeout=120) == "successful"
    assert_every_event_stored_once(settings, run_id, at_least=80)
    assert "DB write failed; will retry" in worker.output()  # the outage really hit the event writes
    fault_report.record(6, [run_id])


def test_playbook_ending_while_the_database_is_down_still_records_its_end_and_events(chatty, restartable_mariadb):
    settings, worker = chatty
    run_id = start_chatty(ticks=15)
    restartable_mariadb.stop()
    wait_until(
        lambda: any(e["event"] == "playbook_on_stats" for e in produced_events(settings, run_id)),
        60,
        "the playbook to end while the DB is down",
    )
    # The worker now holds the last events and the result, retrying.
    wait_until(lambda: f"run {run_id} events: DB unavailable" in worker.output(), 60, "the worker's last write to wait")
    restartable_mariadb.start()
    db.reset_engine()

    assert wait_for_state(run_id, TERMINAL, timeout=120) == "successful"
    assert_every_event_stored_once(settings, run_id, at_least=30)
    with db.session_scope() as session:
        assert [s.host for s in get_run(session, run_id).host_summaries] == ["host1", "host2"]
    assert f"run {run_id} events: DB unavailable" in worker.output()
