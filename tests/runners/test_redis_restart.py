"""Fault matrix #7: Redis restarted (no persistence) while a deploy runs and two more wait in the queue.

The restart loses the waiting runs' messages. The running deploy must still complete with every event
stored, the worker must reconnect by itself, and the waiting runs must still execute, once each: the
one waiting for the same environment is sent again when the running deploy releases the environment,
the other one (another environment) by the reaper, which re-sends queued runs whose message vanished.
"""

from __future__ import annotations

import psutil
import pytest

from playdeck import db, projects
from playdeck.runs.events import events_after
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from testing import fault_report
from testing.fault_report import executions
from tests.cli.cli_support import start_playdeck, stop_process_tree
from tests.conftest import TERMINAL, configure_test_playbooks, queue_run, wait_for_state
from tests.runners.test_cancel import wait_until

# About when the running deploy ends and the worker is free again: sooner would only queue duplicates.
REDISPATCH_AFTER_SECONDS = 20


@pytest.fixture
def marker_on_restartable_redis(monkeypatch, tmp_path, mariadb_url, throwaway_redis):
    settings = configure_test_playbooks(monkeypatch, tmp_path, mariadb_url, throwaway_redis.url)
    with db.session_scope() as session:
        projects.add_project(session, "marker", "marker.yml", {"dev": "local2.ini", "qa": "local2.ini"})
    return settings


@pytest.fixture
def reaper_process(marker_on_restartable_redis, monkeypatch, tmp_path):
    """`playdeck reaper`, as supervisord runs it, with a short pass interval and re-send delay."""
    monkeypatch.setenv("PLAYDECK_REAPER_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("PLAYDECK_REDISPATCH_AFTER_SECONDS", str(REDISPATCH_AFTER_SECONDS))
    process = start_playdeck("reaper", log=tmp_path / "reaper.log")
    yield process
    stop_process_tree(process, timeout=30)


def submit(environment: str, marker, **extra_vars) -> int:
    extra_vars = {"marker_file": str(marker), **extra_vars}
    return queue_run(RunRequest(project="marker", environment=environment, extra_vars=extra_vars)).id


def test_redis_restart_mid_run_loses_no_run_and_no_event(
    marker_on_restartable_redis, throwaway_redis, reaper_process, start_worker, tmp_path
):
    worker = start_worker(concurrency=1)  # one slot: the other two runs wait in Redis
    marker = tmp_path / "executions.txt"
    go_ahead = tmp_path / "go-ahead"  # the running deploy waits for it: the restart happens mid-run
    running = submit("dev", marker, release_file=str(go_ahead))
    same_environment, other_environment = submit("dev", marker), submit("qa", marker)
    wait_until(lambda: executions(marker) == [f"{running} host1", f"{running} host2"], 60, "the run's pause")
    assert throwaway_redis.client().llen("deploy") >= 2  # the waiting runs' messages, lost by the restart

    throwaway_redis.restart()
    wait_until(lambda: "Connection to broker lost" in worker.output(), 60, "the worker to notice the restart")
    go_ahead.touch()

    all_runs = [running, same_environment, other_environment]
    assert [wait_for_state(run_id, TERMINAL, timeout=120) for run_id in all_runs] == ["successful"] * 3
    # Each run executed once, on every host.
    assert executions(marker) == sorted(f"{run_id} {host}" for run_id in all_runs for host in ("host1", "host2"))
    with db.session_scope() as session:
        for run_id in all_runs:
            run = get_run(session, run_id)
            counters = [event.counter for event in events_after(session, run_id, 0)]
            # Every event, once, in order: counters 1..n without a gap, n = what ansible-runner produced.
            assert counters == list(range(1, fault_report.produced_events(run_id) + 1)), run_id
            assert run.event_count == len(counters) and run.attempt == 1
        pool_pids = {get_run(session, run_id).worker_pid for run_id in all_runs}
    # The same worker, reconnected by itself, ran all three.
    assert "Connection to broker lost" in worker.output()
    assert worker.process.poll() is None
    assert pool_pids <= {child.pid for child in psutil.Process(worker.process.pid).children()}
    fault_report.record(7, all_runs, marker=marker)
