"""Fault matrix #6: MariaDB restarted in the middle of a run. The run completes and no event is lost:
the worker keeps events in memory while the DB is away and writes them once it is back."""

from __future__ import annotations

import json
import time

import pytest

from playdeck import db, projects, runs
from playdeck.events import events_after
from tests.conftest import configure_test_playbooks, wait_for_state
from tests.runners.test_cancel import TERMINAL, wait_until


@pytest.fixture
def restartable_mariadb(throwaway_mariadb):
    return throwaway_mariadb()


def test_run_survives_a_database_restart_without_losing_events(
    monkeypatch, tmp_path, restartable_mariadb, redis_url, start_worker
):
    settings = configure_test_playbooks(monkeypatch, tmp_path, restartable_mariadb.url, redis_url)
    with db.session_scope() as session:
        projects.add_project(session, "chatty", "chatty.yml", {"dev": "local2.ini"})
    worker = start_worker(concurrency=1)
    run_id = runs.submit_run(runs.RunRequest(project="chatty", environment="dev", extra_vars={"ticks": 40})).id
    assert wait_for_state(run_id, {"running"}) == "running"

    def stored() -> int:
        with db.session_scope() as session:
            return runs.get_run(session, run_id).event_count

    wait_until(lambda: stored() >= 10, 60, "the first events to be stored")
    restartable_mariadb.stop()  # events keep coming while the DB is down
    time.sleep(3)
    restartable_mariadb.start()
    db.reset_engine()  # this test process's own pool held connections to the old server

    assert wait_for_state(run_id, TERMINAL, timeout=120) == "successful"
    job_events = settings.runs_dir / str(run_id) / "attempt-1" / "artifacts" / "artifacts" / "job_events"
    produced = sorted((json.loads(p.read_text())["counter"]) for p in job_events.glob("*.json"))
    with db.session_scope() as session:
        persisted = [event.counter for event in events_after(session, run_id, 0, limit=1000)]
        assert runs.get_run(session, run_id).event_count == len(persisted)
    assert persisted == produced and len(produced) > 80  # every event, once, in order
    assert "DB write failed; will retry" in worker.output()  # the outage really hit the event writes
