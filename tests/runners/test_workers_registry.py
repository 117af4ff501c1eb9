"""The worker registry with real Celery workers on MariaDB + Redis.

`playdeck workers` shows each worker, what it runs and whether it lives; `playdeck drain` lets the
running run finish, leaves new runs in the broker for another worker, and the worker exits 0.
"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from playdeck import db
from playdeck.models import Run
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.settings import Settings, get_settings
from testing.servers import Worker
from tests.cli.cli_support import PLAYDECK, playdeck, wait_until
from tests.conftest import TERMINAL, queue_run, wait_for_state


@pytest.fixture
def fast_beats(test_projects: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Workers beat every second, so a killed one shows as gone after 3 s."""
    monkeypatch.setenv("PLAYDECK_HEARTBEAT_SECONDS", "1")
    get_settings.cache_clear()
    return get_settings()


def submit(**extra_vars) -> int:
    return queue_run(RunRequest(project="marker", environment="dev", extra_vars=extra_vars)).id


def listed(*options: str) -> list[dict]:
    result = playdeck("workers", "--json", *options)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def shown(worker: Worker, *options: str) -> dict | None:
    """The worker as `playdeck workers --json` lists it (None: not listed)."""
    return next((entry for entry in listed(*options) if entry["name"].startswith(f"{worker.name}@")), None)


def run_row(run_id: int) -> Run:
    with db.session_scope() as session:
        return get_run(session, run_id)


def test_workers_lists_each_worker_what_it_runs_and_how_it_ended(fast_beats, start_worker, tmp_path):
    worker = start_worker(queues="deploy", concurrency=2)
    entry = wait_until(lambda: shown(worker), 30, "the worker in `playdeck workers`")
    assert (entry["state"], entry["queues"], entry["concurrency"]) == ("active", ["deploy"], 2)
    assert entry["pid"] == worker.process.pid and entry["runs"] == []

    go_ahead = tmp_path / "go-ahead"  # the run runs until the test creates it, however slow the listing
    run_id = submit(release_file=str(go_ahead))
    assert wait_for_state(run_id, {"running"}, timeout=60) == "running"
    executing = shown(worker)["runs"]
    assert [(run["id"], run["project"], run["environment"]) for run in executing] == [(run_id, "marker", "dev")]
    table = playdeck("workers").stdout
    row = next(line for line in table.splitlines() if worker.name in line)
    assert " active " in row and f"{run_id} marker/dev for " in row

    worker.process.send_signal(signal.SIGTERM)  # warm shutdown: waits for the run
    wait_until(lambda: "Warm shutdown" in worker.output(), 30, "the worker to begin its warm shutdown")
    assert worker.process.poll() is None and run_row(run_id).state == "running"
    go_ahead.touch()
    assert worker.process.wait(timeout=60) == 0
    assert run_row(run_id).state == "successful" and run_row(run_id).worker_id == entry["id"]
    assert shown(worker) is None, "a stopped worker is listed only with --all"
    stopped = shown(worker, "--all")
    assert stopped["state"] == "stopped" and stopped["stopped_at"] and stopped["runs"] == []

    killed = start_worker(queues="deploy", concurrency=1)
    assert shown(killed)["state"] == "active"
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait(timeout=30)
    gone = wait_until(lambda: (entry := shown(killed)) and entry["state"] == "gone" and entry, 60, "state gone")
    assert gone["stopped_at"] is None


def test_drain_finishes_the_running_run_leaves_new_ones_queued_and_exits_0(test_projects, start_worker, tmp_path):
    marker = tmp_path / "executions.txt"
    draining = start_worker(queues="deploy", concurrency=2)
    go_ahead = tmp_path / "go-ahead"  # the first run runs until the test creates it
    first = submit(marker_file=str(marker), release_file=str(go_ahead))
    assert wait_for_state(first, {"running"}, timeout=60) == "running"
    worker_id = shown(draining)["id"]

    # A deadline shorter than the run: --wait gives up with exit 1, and the drain goes on.
    early = playdeck("drain", str(worker_id), "--user", "alice", "--wait", "--timeout", "2")
    assert early.returncode == 1, early.stdout + early.stderr
    assert "draining, asked by alice" in early.stdout and f"{first} marker/dev" in early.stdout
    assert "still draining after 2 s" in early.stderr

    # The worker stopped consuming (it has a free pool process, so it would take the next run).
    wait_until(lambda: "no longer taking runs from deploy" in draining.output(), 30, "the worker to stop consuming")
    second = submit(marker_file=str(marker))
    said = tmp_path / "waiter.out"
    with said.open("w") as out:
        waiter = subprocess.Popen(
            [str(PLAYDECK), "drain", draining.name, "--wait", "--timeout", "120"], stdout=out, stderr=out, text=True
        )
    # The first run still runs (it waits for the go-ahead), so the worker is still draining.
    wait_until(lambda: "already draining, asked by alice" in said.read_text(), 60, "the waiter to see the drain")
    go_ahead.touch()
    assert waiter.wait(timeout=180) == 0, said.read_text()
    assert ": stopped" in said.read_text()
    assert draining.process.wait(timeout=60) == 0

    assert run_row(first).state == "successful" and run_row(first).worker_id == worker_id
    left = run_row(second)
    assert (left.state, left.worker_id, left.attempt) == ("queued", None, 0)
    entry = shown(draining, "--all")
    assert entry["state"] == "stopped" and entry["drain_requested_by"] == "alice"

    # Its message stayed in the broker: the next worker executes it.
    other = start_worker(queues="deploy", concurrency=1)
    assert wait_for_state(second, TERMINAL, timeout=90) == "successful"
    assert run_row(second).worker_id == shown(other)["id"]
    lines = marker.read_text().split("\n")[:-1]
    assert sorted(lines) == sorted(f"{run_id} {host}" for run_id in (first, second) for host in ("host1", "host2"))
