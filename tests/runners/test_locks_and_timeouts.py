"""Deploy locks, supersede, run and idle timeouts, force-cancel, and cancel racing completion —
with real workers on MariaDB + Redis."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from playdeck import db, projects
from playdeck.errors import Conflict, ValidationError
from playdeck.models import Run
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from tests.conftest import TERMINAL, cancel_run, queue_run, wait_for_state
from tests.runners.test_cancel import processes_of, wait_until


@pytest.fixture
def targets(test_playbooks):
    with db.session_scope() as session:
        projects.add_project(session, "locked", "sleep_long.yml", {"dev": "local2.ini", "qa": "local2.ini"})
        projects.add_project(session, "newest", "sleep_long.yml", {"dev": "local2.ini"}, supersede_queued=True)
        projects.add_project(session, "bounded", "sleep_long.yml", {"dev": "local2.ini"}, run_timeout_seconds=60)


def submit(project: str, environment: str = "dev", seconds: int = 0, **fields) -> int:
    request = RunRequest(project=project, environment=environment, extra_vars={"sleep_seconds": seconds}, **fields)
    return queue_run(request).id


def run_of(run_id: int) -> Run:
    with db.session_scope() as session:
        return get_run(session, run_id)


def test_second_deploy_to_an_environment_waits_for_the_first(targets, start_worker):
    start_worker(concurrency=2)  # a free pool process for the second run: only the lock holds it back
    first = submit("locked", seconds=4)
    assert wait_for_state(first, {"running"}) == "running"
    second = submit("locked", seconds=0)
    other_env = submit("locked", environment="qa", seconds=0)

    assert wait_for_state(other_env, TERMINAL) == "successful"  # another environment is not blocked
    assert run_of(second).state == "queued"  # still waiting while the first holds the lock
    assert wait_for_state(first, TERMINAL) == "successful"
    assert wait_for_state(second, TERMINAL) == "successful"
    assert run_of(second).started_at >= run_of(first).finished_at


def test_newer_version_supersedes_the_waiting_one(targets, start_worker):
    start_worker(concurrency=2)
    running = submit("newest", seconds=3, version="1.0")
    assert wait_for_state(running, {"running"}) == "running"
    older = submit("newest", version="1.1")
    newer = submit("newest", version="1.2")

    superseded = run_of(older)
    assert (superseded.state, superseded.reason) == ("canceled", f"superseded by run {newer}")
    assert wait_for_state(newer, TERMINAL) == "successful"
    assert run_of(older).started_at is None  # it never ran


def test_run_timeout_stops_every_process(targets, start_worker):
    start_worker()
    run_id = submit("bounded", seconds=631, timeout=3)
    assert wait_for_state(run_id, TERMINAL, timeout=60) == "timeout"
    run = run_of(run_id)
    assert "run timeout of 3 s" in run.reason
    assert (run.finished_at - run.started_at).total_seconds() < 15
    assert processes_of("sleep 631") == []


def test_idle_timeout_stops_a_silent_run(targets, start_worker):
    start_worker()
    run_id = submit("bounded", seconds=632, idle_timeout=3)
    assert wait_for_state(run_id, TERMINAL, timeout=60) == "timeout"
    assert "without output (idle timeout)" in run_of(run_id).reason
    assert processes_of("sleep 632") == []


def test_a_run_may_not_ask_for_more_time_than_its_project_allows(targets):
    with pytest.raises(ValidationError, match="at most 60 s for project 'bounded'"):
        submit("bounded", timeout=61)


def test_force_cancel_after_the_worker_was_killed_releases_the_lock(targets, start_worker):
    dead = start_worker(concurrency=1)
    holder = submit("locked", seconds=633)
    assert wait_for_state(holder, {"running"}) == "running"
    waiting = submit("locked", seconds=0)
    wait_until(lambda: processes_of("sleep 633"), 60, "the holder's playbook")

    os.killpg(dead.process.pid, signal.SIGKILL)  # the worker master and its pool vanish
    dead.process.wait()

    canceled = cancel_run(holder, "release-manager", force=True)
    assert canceled.state == "canceled" and "force-canceled by release-manager" in canceled.reason
    start_worker(concurrency=1)  # a new worker takes the waiting run, re-dispatched by the cancel
    assert wait_for_state(waiting, TERMINAL) == "successful"
    # The new worker's sweep finds the dead worker's orphans by their run tag and stops them.
    wait_until(lambda: processes_of("sleep 633") == [], 40, "the orphaned sleeps to be stopped")


def race_finish_against_force_cancel(run_id: int) -> dict[str, bool]:
    """A worker recording success and a force-cancel released at the same instant."""
    results: dict[str, bool] = {}
    barrier = threading.Barrier(2)

    def finish() -> None:
        barrier.wait()
        with db.session_scope() as session:
            results["finished"] = finish_run(session, run_id, RunState.SUCCESSFUL, rc=0)

    def cancel() -> None:
        barrier.wait()
        try:
            results["canceled"] = cancel_run(run_id, "racer", force=True).state == "canceled"
        except Conflict:
            results["canceled"] = False

    threads = [threading.Thread(target=finish), threading.Thread(target=cancel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_cancel_racing_completion_ends_in_exactly_one_state(targets):
    for _ in range(10):
        with db.session_scope() as session:
            run_id = request_run(session, RunRequest(project="locked", environment="qa")).id
        with db.session_scope() as session:
            assert claim_run(session, run_id, "racer", 1)
        results = race_finish_against_force_cancel(run_id)
        assert results["finished"] != results["canceled"]  # exactly one writer won, the other was told
        assert run_of(run_id).state == ("successful" if results["finished"] else "canceled")
