"""Cancel stops the whole process tree of a run, within 10 s, and a canceled queued run never starts."""

from __future__ import annotations

import time

import psutil
import pytest

from playdeck import db, projects
from playdeck.errors import Conflict
from playdeck.runs.events import events_after
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.runs.taskqueue import EXECUTE_RUN_TASK, producer
from playdeck.runs.transitions import request_cancel
from runners import orphans
from tests.cli.cli_support import wait_until
from tests.conftest import TERMINAL, queue_run, wait_for_state


@pytest.fixture
def sleepy(test_playbooks):
    with db.session_scope() as session:
        projects.add_project(session, "sleepy", "sleep_long.yml", {"dev": "local3.ini"})


def processes_of(marker: str) -> list[psutil.Process]:
    """This test's run processes (tagged with its install: other tests run in parallel) whose command
    line contains ``marker``."""
    return [proc for procs in orphans.run_processes().values() for proc in procs if _cmdline_has(proc, marker)]


def _cmdline_has(proc: psutil.Process, marker: str) -> bool:
    try:
        return any(marker in part for part in proc.cmdline())
    except psutil.Error:
        return False  # gone meanwhile


def test_cancel_running_run_stops_every_process_within_10_seconds(sleepy, start_worker):
    start_worker()
    seconds = 617  # a duration no other test uses: its processes are found by it
    run_id = queue_run(RunRequest(project="sleepy", environment="dev", extra_vars={"sleep_seconds": seconds})).id
    wait_until(lambda: len(processes_of(f"sleep {seconds}")) >= 3, 60, "a sleep on each of the 3 hosts")
    playbook = processes_of(f"runs/{run_id}/attempt-1")
    assert playbook, "the run's ansible-playbook is running"

    requested = time.monotonic()
    with db.session_scope() as session:
        request_cancel(session, run_id, "release-manager")
    assert wait_for_state(run_id, TERMINAL, timeout=30) == "canceled"
    assert time.monotonic() - requested <= 10

    # Nothing of the run is left: no sleep, no task worker, no ansible-playbook.
    assert processes_of(f"sleep {seconds}") == []
    assert [p for p in processes_of(f"runs/{run_id}/attempt-1") if p.status() != psutil.STATUS_ZOMBIE] == []
    with db.session_scope() as session:
        run = get_run(session, run_id)
        assert run.canceled_by == "release-manager" and run.cancel_requested_at and run.finished_at
        # The log up to the cancel is kept.
        assert any("about to sleep on host3" in e.stdout for e in events_after(session, run_id, 0))


def test_a_canceled_queued_run_never_starts_even_if_its_message_arrives(sleepy, start_worker, tmp_path):
    run_id = queue_run(RunRequest(project="sleepy", environment="dev")).id  # no worker yet
    with db.session_scope() as session:
        assert request_cancel(session, run_id, "alice").state == "canceled"
    worker = start_worker()  # the message is still in Redis and is now delivered
    wait_until(lambda: "not executing it again" in worker.output(), 30, "the delivery to be refused")
    with db.session_scope() as session:
        run = get_run(session, run_id)
        assert (run.state, run.started_at, run.attempt, run.canceled_by) == ("canceled", None, 0, "alice")
        assert "before it started" in run.reason


def test_cancelling_an_ended_run_is_a_conflict(sleepy, start_worker):
    start_worker()
    run_id = queue_run(RunRequest(project="sleepy", environment="dev", extra_vars={"sleep_seconds": 0})).id
    assert wait_for_state(run_id, TERMINAL) == "successful"
    with pytest.raises(Conflict, match="already ended: it is successful"), db.session_scope() as session:
        request_cancel(session, run_id, "bob")
    with db.session_scope() as session:
        assert get_run(session, run_id).canceled_by is None  # nothing was recorded


def test_duplicate_message_after_cancel_does_not_resurrect_the_run(sleepy, start_worker):
    worker = start_worker()
    run_id = queue_run(RunRequest(project="sleepy", environment="dev", extra_vars={"sleep_seconds": 619})).id
    assert wait_for_state(run_id, {"running"}) == "running"
    with db.session_scope() as session:
        request_cancel(session, run_id, "carol")
    assert wait_for_state(run_id, TERMINAL) == "canceled"
    producer().send_task(EXECUTE_RUN_TASK, args=[run_id], queue="deploy", routing_key="deploy")
    wait_until(lambda: "not executing it again" in worker.output(), 30, "the redelivery to be refused")
    assert processes_of("sleep 619") == []
    with db.session_scope() as session:
        assert get_run(session, run_id).attempt == 1
