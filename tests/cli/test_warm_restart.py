"""Fault matrix #1: `supervisorctl restart` of the deploy worker while 3 deploys run.

Real supervisord (`playdeck up` with the production program files), a real Celery worker, MariaDB and
Redis. The restart must wait for the deploys: all three end successful, none runs twice, and the next
run starts on the new worker.
"""

from __future__ import annotations

import time

import pytest

from playdeck import db, projects, runs
from tests.cli.cli_support import SupervisedPlaydeck
from tests.conftest import wait_for_state

PAUSE_SECONDS = 15
TERMINAL = {"successful", "failed", "canceled", "timeout", "lost", "error"}


@pytest.fixture
def three_slot_marker(test_playbooks, monkeypatch):
    monkeypatch.setenv("PLAYDECK_WORKER_CONCURRENCY", "3")
    with db.session_scope() as session:
        # No deploy lock: the three runs go to one environment at the same time.
        projects.add_project(session, "marker", "marker.yml", {"dev": "local2.ini"}, lock_deploys=False)
    return test_playbooks


def submit(marker_file: str, pause: int) -> int:
    request = runs.RunRequest(
        project="marker", environment="dev", extra_vars={"marker_file": marker_file, "pause_seconds": pause}
    )
    return runs.submit_run(request).id


def test_restart_waits_for_running_deploys_and_runs_none_twice(
    three_slot_marker, playdeck_up: SupervisedPlaydeck, tmp_path
):
    marker = tmp_path / "executions.txt"
    deploys = [submit(str(marker), PAUSE_SECONDS) for _ in range(3)]
    for run_id in deploys:
        assert wait_for_state(run_id, {"running"}, timeout=60) == "running"
    with db.session_scope() as session:
        old_worker = {runs.get_run(session, run_id).worker_pid for run_id in deploys}

    started = time.monotonic()
    # supervisorctl restart = stopProcess (waits until stopped) then startProcess.
    playdeck_up.rpc.supervisor.stopProcess("playdeck-worker-deploy")
    stop_took = time.monotonic() - started
    playdeck_up.rpc.supervisor.startProcess("playdeck-worker-deploy")

    with db.session_scope() as session:
        ended = [runs.get_run(session, run_id) for run_id in deploys]
    # The stop returned only after the deploys ended, all of them successfully, each executed once.
    assert [run.state for run in ended] == ["successful"] * 3
    assert all(run.attempt == 1 for run in ended)
    assert stop_took >= PAUSE_SECONDS / 2
    lines = marker.read_text().split("\n")[:-1]
    assert sorted(lines) == sorted(f"{run_id} {host}" for run_id in deploys for host in ("host1", "host2"))

    after = submit(str(marker), 0)
    assert wait_for_state(after, TERMINAL, timeout=90) == "successful"
    with db.session_scope() as session:
        assert runs.get_run(session, after).worker_pid not in old_worker
