"""`playdeck workers` and `playdeck drain` as a release manager types them.

Most tests use registry rows written the way a worker master writes them (no process behind them) on
the embedded default; the last one drains the deploy worker of a real `playdeck up` (supervisord,
filesystem broker) and checks supervisord leaves it stopped, starts it again, and still restarts a crash.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from playdeck import db, workers
from playdeck.models import Worker, utcnow
from playdeck.runs.requests import RunRequest
from playdeck.runs.transitions import claim_run
from playdeck.settings import get_settings
from tests.cli.cli_support import SupervisedPlaydeck, playdeck, wait_until
from tests.conftest import queue_run


def register(name: str, hostname: str = "web1", silent_for: float = 0.0, **values) -> int:
    """A worker row; ``silent_for`` seconds since its last heartbeat."""
    with db.session_scope() as session:
        worker = workers.register(session, name=name, hostname=hostname, pid=4242, queues=["deploy"], concurrency=4)
        worker.heartbeat_at = utcnow() - dt.timedelta(seconds=silent_for)
        for field, value in values.items():
            setattr(worker, field, value)
        return worker.id


def stored(worker_id: int) -> Worker:
    with db.session_scope() as session:
        return session.get(Worker, worker_id)


def listed(*options: str) -> dict[str, dict]:
    result = playdeck("workers", "--json", *options)
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def test_workers_shows_live_and_gone_workers_with_their_runs(embedded):
    assert listed() == {}
    assert "No live workers" in playdeck("workers").stdout
    active = register("deploy@web1")
    register("deploy@web2", hostname="web2", silent_for=3600)
    register("old@web1", state="stopped", stopped_at=utcnow())
    run_id = queue_run(RunRequest(project="sampleapp", environment="staging")).id
    with db.session_scope() as session:
        assert claim_run(session, run_id, "web1", 4243, worker_id=active)

    shown = listed()
    assert {name: entry["state"] for name, entry in shown.items()} == {"deploy@web1": "active", "deploy@web2": "gone"}
    assert shown["deploy@web1"]["queues"] == ["deploy"] and shown["deploy@web1"]["concurrency"] == 4
    assert [(r["id"], r["project"], r["environment"]) for r in shown["deploy@web1"]["runs"]] == [
        (run_id, "sampleapp", "staging")
    ]
    assert listed("--all")["old@web1"]["state"] == "stopped"

    table = playdeck("workers").stdout.splitlines()
    assert table[0].split()[:7] == ["ID", "NAME", "HOST", "PID", "QUEUES", "CONC", "STATE"]
    row = next(line for line in table if "deploy@web1" in line)
    assert " active " in row and f"{run_id} sampleapp/staging for " in row


def test_drain_records_who_asked_once_and_refuses_what_it_cannot_drain(embedded):
    active = register("deploy@web1")
    register("deploy@web2", hostname="web2", silent_for=3600)
    register("dns@web1", state="stopped", stopped_at=utcnow())

    asked = playdeck("drain", "deploy@web1", "--user", "alice")
    assert asked.returncode == 0, asked.stderr
    assert f"worker {active} (deploy@web1): draining, asked by alice" in asked.stdout
    assert (stored(active).state, stored(active).drain_requested_by) == ("draining", "alice")
    again = playdeck("drain", str(active), "--user", "bob")
    assert again.returncode == 0 and "already draining, asked by alice" in again.stdout
    assert stored(active).drain_requested_by == "alice"

    stopped = playdeck("drain", "dns")
    assert stopped.returncode == 0 and "has already stopped" in stopped.stdout
    gone = playdeck("drain", "deploy@web2")
    assert gone.returncode == 2 and "is gone: no heartbeat for" in gone.stderr
    for unknown, message in (("nope", "no worker is named 'nope'"), ("999", "worker 999 does not exist")):
        result = playdeck("drain", unknown, "--wait")
        assert result.returncode == 2 and message in result.stderr
    assert playdeck("drain", "--host", "web9").returncode == 2
    usage = playdeck("drain", "deploy@web1", "--all")
    assert usage.returncode == 2 and "name one WORKER" in usage.stderr
    assert playdeck("drain", "deploy@web1", "--timeout", "5").returncode == 2


def test_an_unreachable_database_is_a_message_not_a_traceback(embedded, monkeypatch):
    monkeypatch.setenv("PLAYDECK_DATABASE_URL", "mysql+pymysql://root@127.0.0.1:1/playdeck")

    for command in (["workers"], ["drain", "deploy"]):
        result = playdeck(*command)
        assert result.returncode == 1 and "cannot use the database mysql+pymysql://root@127.0.0.1:1/" in result.stderr


def test_a_name_that_fits_two_live_workers_is_ambiguous(embedded):
    first, second = register("deploy@web1"), register("deploy@web2", hostname="web2")

    result = playdeck("drain", "deploy")
    assert result.returncode == 2
    assert f"'deploy' names 2 live workers: {first} (deploy@web1), {second} (deploy@web2)" in result.stderr
    drained = playdeck("drain", "--host", "web2")
    assert drained.returncode == 0 and stored(second).state == "draining" and stored(first).state == "active"


def test_drain_wait_fails_when_the_worker_dies_before_it_stops(embedded, monkeypatch):
    # Gone after 3 beats (9 s): time for the command to start and ask while the worker still lives.
    monkeypatch.setenv("PLAYDECK_HEARTBEAT_SECONDS", "3")
    get_settings.cache_clear()
    # Nothing beats for this row: it goes silent as a worker killed mid-drain would.
    silent = register("deploy@web1")

    result = playdeck("drain", str(silent), "--wait", "--timeout", "60")
    assert result.returncode == 1
    assert f"worker {silent} (deploy@web1) is gone before it stopped" in result.stderr


def test_a_drained_worker_stays_stopped_under_supervisord_and_a_crash_still_restarts(
    playdeck_up: SupervisedPlaydeck,
):
    program = "playdeck-worker-deploy"

    def deploy_workers() -> list[dict]:
        return [entry for name, entry in listed().items() if name.startswith("deploy@")]

    # RUNNING for supervisord (startsecs) comes before Celery has imported everything and registered.
    first = wait_until(deploy_workers, 60, "the deploy worker in `playdeck workers`")[0]
    result = playdeck("drain", "deploy", "--wait", "--timeout", "120")
    assert result.returncode == 0, result.stdout + result.stderr
    info = wait_until(
        lambda: (info := playdeck_up.rpc.supervisor.getProcessInfo(program))["statename"] == "EXITED" and info,
        30,
        "the drained worker to exit",
    )
    assert info["exitstatus"] == 0
    # With autorestart=true supervisord would start it again within a second; it must not.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert playdeck_up.rpc.supervisor.getProcessInfo(program)["statename"] == "EXITED"
        time.sleep(0.5)
    assert deploy_workers() == []

    playdeck_up.rpc.supervisor.startProcess(program)  # waits for RUNNING (startsecs)
    restarted = wait_until(deploy_workers, 60, "a new deploy worker")
    assert restarted[0]["state"] == "active" and restarted[0]["id"] != first["id"]

    # A crash is unexpected: supervisord restarts the worker by itself.
    playdeck_up.rpc.supervisor.signalProcess(program, "KILL")
    wait_until(
        lambda: (
            (info := playdeck_up.rpc.supervisor.getProcessInfo(program))["statename"] == "RUNNING"
            and info["pid"] != restarted[0]["pid"]
        ),
        60,
        "supervisord to restart the killed worker",
    )
