"""Fault matrix #1 and #2: `supervisorctl restart` of the deploy worker while 3 deploys run.

Real supervisord (`playdeck up` with the production program files), a real Celery worker, MariaDB and
Redis. #1, as shipped (stopwaitsecs=600): the restart waits for the deploys; all three end successful,
none runs twice, and the next run starts on the new worker. #2, the classic failure (supervisord's
default stopwaitsecs=10): the worker is SIGKILLed mid-run; the runs must end `lost`, not stay `running`,
leave no process behind, and the broker's later redelivery of their messages must not run them again.
"""

from __future__ import annotations

import glob
import threading
import time
from pathlib import Path

import pytest
import redis

from playdeck import db, projects
from playdeck.cli.supervisor import CONFIG_DIR
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from runners import orphans
from testing import fault_report
from testing.fault_report import executions
from tests.cli.cli_support import SupervisedPlaydeck, wait_all_running, wait_until
from tests.conftest import TERMINAL, queue_run, wait_for_state

WORKER = "playdeck-worker-deploy"
HOSTS = ("host1", "host2")


@pytest.fixture
def three_slot_marker(test_playbooks, monkeypatch):
    monkeypatch.setenv("PLAYDECK_WORKER_CONCURRENCY", "3")
    with db.session_scope() as session:
        # No deploy lock: the three runs go to one environment at the same time.
        projects.add_project(session, "marker", "marker.yml", {"dev": "local2.ini"}, lock_deploys=False)
    return test_playbooks


def submit(marker_file: str, **extra_vars) -> int:
    extra_vars = {"marker_file": marker_file, **extra_vars}
    return queue_run(RunRequest(project="marker", environment="dev", extra_vars=extra_vars)).id


def test_restart_waits_for_running_deploys_and_runs_none_twice(
    three_slot_marker, playdeck_up: SupervisedPlaydeck, tmp_path
):
    marker = tmp_path / "executions.txt"
    go_ahead = tmp_path / "go-ahead"  # the deploys wait for it: the restart comes while all three run
    deploys = [submit(str(marker), release_file=str(go_ahead)) for _ in range(3)]
    executed_once = sorted(f"{run_id} {host}" for run_id in deploys for host in HOSTS)
    wait_until(lambda: executions(marker) == executed_once, 90, "the three deploys to wait for the go-ahead")
    with db.session_scope() as session:
        old_worker = {get_run(session, run_id).worker_pid for run_id in deploys}

    # supervisorctl restart = stopProcess (waits until stopped) then startProcess.
    stop = threading.Thread(target=lambda: playdeck_up.rpc.supervisor.stopProcess(WORKER))
    stop.start()
    wait_until(
        lambda: playdeck_up.rpc.supervisor.getProcessInfo(WORKER)["statename"] == "STOPPING",
        30,
        "supervisord to stop the worker",
    )
    with db.session_scope() as session:
        # The worker is stopping, and the deploys go on.
        assert [get_run(session, run_id).state for run_id in deploys] == ["running"] * 3
    assert stop.is_alive(), "the stop returned while the deploys ran"
    go_ahead.touch()
    stop.join(timeout=120)
    assert not stop.is_alive()
    playdeck_up.rpc.supervisor.startProcess(WORKER)

    with db.session_scope() as session:
        ended = [get_run(session, run_id) for run_id in deploys]
    # The stop returned only after the deploys ended, all of them successfully, each executed once.
    assert [run.state for run in ended] == ["successful"] * 3
    assert all(run.attempt == 1 for run in ended)
    assert executions(marker) == executed_once

    after = submit(str(marker))
    assert wait_for_state(after, TERMINAL, timeout=90) == "successful"
    with db.session_scope() as session:
        assert get_run(session, after).worker_pid not in old_worker
    fault_report.record(1, [*deploys, after], marker=marker)


# supervisord's default: what a config without the shipped stopwaitsecs=600 gets.
STOP_WAIT_SECONDS = 10
# Far longer than the test needs: a playbook that escaped the kill must still be running when the test
# looks for it, not have ended by itself.
KILLED_PAUSE_SECONDS = 90
# Redis hands an unacknowledged message out again after this long: the killed worker's messages come
# back within the test rather than hours later (FIELD-NOTES, Celery).
VISIBILITY_TIMEOUT = 5


@pytest.fixture
def quick_redelivery(three_slot_marker, monkeypatch):
    monkeypatch.setenv("PLAYDECK_VISIBILITY_TIMEOUT", str(VISIBILITY_TIMEOUT))
    return three_slot_marker


def set_stopwaitsecs(supervised: SupervisedPlaydeck, seconds: int, folder: Path) -> None:
    """Run the deploy worker with another stopwaitsecs, as an operator would: an edited copy of the shipped
    program file included instead of it, then `supervisorctl update` (reload, replace the group)."""
    shipped = CONFIG_DIR / f"{WORKER}.conf"
    edited = folder / shipped.name
    text = shipped.read_text()
    assert "\nstopwaitsecs=600\n" in text
    edited.write_text(text.replace("\nstopwaitsecs=600\n", f"\nstopwaitsecs={seconds}\n"))
    main = supervised.layout.config.read_text()
    assert str(shipped) in main
    supervised.layout.config.write_text(main.replace(str(shipped), glob.escape(str(edited))))
    [[_added, changed, _removed]] = supervised.rpc.supervisor.reloadConfig()
    assert WORKER in changed
    supervised.rpc.supervisor.stopProcessGroup(WORKER)
    supervised.rpc.supervisor.removeProcessGroup(WORKER)
    supervised.rpc.supervisor.addProcessGroup(WORKER)
    wait_all_running(supervised)


def processes_of_runs(run_ids: list[int]) -> list:
    """Processes of these runs still alive on this host, found by their PLAYDECK_RUN tag in any session."""
    return [proc for run_id, procs in orphans.run_processes().items() if run_id in run_ids for proc in procs]


def test_restart_that_kills_after_stopwaitsecs_loses_runs_without_rerun(
    quick_redelivery, playdeck_up: SupervisedPlaydeck, tmp_path, redis_url
):
    set_stopwaitsecs(playdeck_up, STOP_WAIT_SECONDS, tmp_path)
    worker_log = playdeck_up.layout.log_dir / f"{WORKER}.log"
    marker = tmp_path / "executions.txt"
    deploys = [submit(str(marker), pause_seconds=KILLED_PAUSE_SECONDS) for _ in range(3)]
    executed_once = sorted(f"{run_id} {host}" for run_id in deploys for host in HOSTS)
    # Each has recorded its execution on both hosts and sits in its pause.
    wait_until(lambda: executions(marker) == executed_once, 90, "the three deploys to reach their pause")

    started = time.monotonic()
    playdeck_up.rpc.supervisor.stopProcess(WORKER)  # TERM (warm shutdown), then SIGKILL after stopwaitsecs
    killed = time.monotonic()
    killed_worker_output = worker_log.stat().st_size
    playdeck_up.rpc.supervisor.startProcess(WORKER)
    # supervisord did not wait for the deploys, it killed them.
    assert STOP_WAIT_SECONDS <= killed - started < STOP_WAIT_SECONDS + 10

    def left() -> float:
        return max(0.0, killed + 60 - time.monotonic())  # the bound the product promises for lost runs

    # Recorded lost, not left running, and none of their processes (playbook, task workers) survives.
    assert [wait_for_state(run_id, TERMINAL, timeout=left()) for run_id in deploys] == ["lost"] * 3
    wait_until(lambda: not processes_of_runs(deploys), left(), "the killed runs' processes to be gone")

    # The killed worker never acknowledged its messages: Redis hands them to the new worker, which must
    # acknowledge them without executing anything.
    def refused() -> set[int]:
        output = worker_log.read_bytes()[killed_worker_output:].decode(errors="replace")
        return {run_id for run_id in deploys if f"run {run_id} not claimed" in output}

    # (A redelivery that executes again shows up in the marker file at once: stop waiting then.)
    wait_until(
        lambda: refused() == set(deploys) or executions(marker) != executed_once,
        left(),
        "the redelivered messages to be refused",
    )
    assert executions(marker) == executed_once  # nothing ran a second time
    broker = redis.Redis.from_url(redis_url)
    # Nothing left in the broker to come back later.
    wait_until(lambda: broker.llen("deploy") == broker.hlen("unacked") == 0, 30, "the messages to be acknowledged")
    with db.session_scope() as session:
        ended = [get_run(session, run_id) for run_id in deploys]
    assert [(run.state, run.attempt) for run in ended] == [("lost", 1)] * 3
    assert all("worker" in run.reason and "gone" in run.reason for run in ended), [run.reason for run in ended]
    fault_report.record(2, deploys, marker=marker)
