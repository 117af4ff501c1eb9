"""Processes of runs that no live worker owns are found by their tag and stopped; such runs end lost."""

from __future__ import annotations

import os
import signal
import socket
import subprocess

import pytest

from playdeck import db
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from runners import orphans
from testing import fault_report
from tests.conftest import TERMINAL, queue_run, wait_for_state
from tests.runners.test_cancel import processes_of, wait_until


def tagged_sleep(tag: str, seconds: int) -> subprocess.Popen:
    env = {**os.environ, orphans.RUN_ENV: tag}
    return subprocess.Popen(["sleep", str(seconds)], env=env, start_new_session=True)


def queued_run(environment: str) -> int:
    with db.session_scope() as session:
        return request_run(session, RunRequest(project="sampleapp", environment=environment)).id


def test_sweep_stops_processes_of_ended_runs_and_of_dead_workers_only(embedded):
    host = socket.gethostname()
    # Two environments: the live and the dead worker's runs both hold their environment's deploy lock.
    ended, live, dead_worker = queued_run("staging"), queued_run("staging"), queued_run("production")
    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()
    with db.session_scope() as session:
        assert claim_run(session, ended, host, os.getpid())
        assert finish_run(session, ended, RunState.SUCCESSFUL, rc=0)
    with db.session_scope() as session:
        assert claim_run(session, live, host, os.getpid())  # this test process plays the live worker
    with db.session_scope() as session:
        assert claim_run(session, dead_worker, host, dead_pid.pid)
    sleeps = {run_id: tagged_sleep(orphans.run_tag(run_id), 651) for run_id in (ended, live, dead_worker)}
    other_install = tagged_sleep(f"0123456789ab/{ended}", 651)  # same run id, another Playdeck's
    try:
        killed = orphans.sweep()

        assert set(killed) == {ended, dead_worker}
        # Gone (the sweep reaped these children of ours itself, so no exit status is left to read).
        assert sleeps[ended].poll() is not None and sleeps[dead_worker].poll() is not None
        assert sleeps[live].poll() is None and other_install.poll() is None
        with db.session_scope() as session:
            lost = get_run(session, dead_worker)
            assert lost.state == "lost" and f"worker process {dead_pid.pid} on {host} is gone" in lost.reason
            assert get_run(session, live).state == "running"
    finally:
        for proc in [*sleeps.values(), other_install]:
            proc.kill()
            proc.wait()


@pytest.fixture
def sleepy_project(test_playbooks):
    from playdeck import projects

    with db.session_scope() as session:
        projects.add_project(session, "sleepy", "sleep_long.yml", {"dev": "local3.ini"})


def sleeping_run(seconds: int) -> tuple[int, int]:
    """A run of "sleepy" whose 3 hosts each sleep ``seconds`` (a number no other test sleeps, to tell its
    processes apart), once they all do; returns the run's id and its pool process's pid."""
    request = RunRequest(project="sleepy", environment="dev", extra_vars={"sleep_seconds": seconds})
    run_id = queue_run(request).id
    wait_until(lambda: len(processes_of(f"sleep {seconds}")) >= 3, 60, "the playbook's sleeps")
    with db.session_scope() as session:
        return run_id, get_run(session, run_id).worker_pid


def test_killed_pool_process_run_ends_lost_no_orphan_no_rerun(sleepy_project, start_worker):
    worker = start_worker(concurrency=1)
    run_id, pool_pid = sleeping_run(652)

    os.kill(pool_pid, signal.SIGKILL)

    # The master's sweep notices within its interval; 60 s is the reaper bound the product promises.
    assert wait_for_state(run_id, TERMINAL, timeout=60) == "lost"
    wait_until(lambda: processes_of("sleep 652") == [], 30, "the orphaned sleeps to be stopped")
    # reject_on_worker_lost put the message back: it is delivered again and refused, not re-run.
    wait_until(lambda: "not executing it again" in worker.output(), 60, "the redelivery to be refused")
    with db.session_scope() as session:
        assert get_run(session, run_id).attempt == 1
    fault_report.record(3, [run_id])


def test_term_to_every_worker_process_ends_the_run_lost_before_the_master_exits(sleepy_project, start_worker):
    """What `pkill -f celery` does: the pool process dies at once (its playbook with it), the master's warm
    shutdown has nothing left to wait for. No reaper runs here: only the master can record the run."""
    worker = start_worker(concurrency=1)
    run_id, pool_pid = sleeping_run(653)

    for pid in (worker.process.pid, pool_pid):
        os.kill(pid, signal.SIGTERM)
    worker.process.wait(timeout=60)

    with db.session_scope() as session:
        run = get_run(session, run_id)
    assert run.state == "lost", run.state
    assert f"worker process {pool_pid}" in run.reason
    wait_until(lambda: processes_of("sleep 653") == [], 15, "no process of the run to be left")
