"""Workers on other "hosts" (network namespaces): cut off mid-run, and competing for one queue."""

from __future__ import annotations

from sqlalchemy import func, select

from playdeck import db
from playdeck.models import RunEvent
from playdeck.runs.dispatch import dispatch_run
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from runners import orphans
from tests.cli.cli_support import playdeck, wait_until
from tests.conftest import TERMINAL, queue_run, wait_for_state
from tests.netns.conftest import LOST_AFTER, QUEUE


def event_count(run_id: int) -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count()).select_from(RunEvent).where(RunEvent.run_id == run_id))


def live_processes(run_id: int) -> list:
    return [proc for proc in orphans.run_processes().get(run_id, []) if proc.status() != "zombie"]


def submit(cluster, **extra_vars) -> int:
    request = RunRequest(
        project="ticks", environment="prod", extra_vars={"marker_file": str(cluster.marker_file), **extra_vars}
    )
    return queue_run(request).id


def test_a_worker_cut_off_mid_run_has_it_lost_and_never_runs_it_again(cluster):
    net = cluster("w1")
    host = net.hosts[0]
    worker = net.start_worker(host)
    net.start_reaper()
    run_id = submit(net, ticks=400)
    wait_until(lambda: event_count(run_id) >= 10, 60, "the run's first ticks in the DB")

    net.network.cut(host)
    # The reaper's bound (LOST_AFTER without heartbeat, plus a pass) with room for a loaded machine.
    assert wait_for_state(run_id, TERMINAL, timeout=LOST_AFTER + 30) == "lost"
    events_when_lost = event_count(run_id)
    # Still cut off, the worker has stopped the playbook on its own: it could not reach the DB.
    wait_until(lambda: not live_processes(run_id), 30, "the cut-off worker to stop the run's processes")

    net.network.restore(host)
    # Back on the network, the worker learns the run's state before anything else and ends its task.
    wait_until(lambda: f"run {run_id} ended lost" in worker.output(), 120, "the worker to see the run lost")

    with db.session_scope() as session:
        run = get_run(session, run_id)
        assert run.state == "lost"
        assert run.reason.startswith(f"no heartbeat from worker {worker.hostname} for ")
        assert run.attempt == 1 and run.worker_host == worker.hostname
    assert event_count(run_id) == events_when_lost, "events were written for a run already lost"
    assert sorted(net.executions()) == [f"{run_id} host1", f"{run_id} host2"]
    assert live_processes(run_id) == []


def test_two_worker_hosts_on_one_queue_never_run_a_run_twice(cluster):
    net = cluster("w1", "w2")
    workers = [net.start_worker(host) for host in net.hosts]
    run_ids = [submit(net, ticks=2) for _ in range(4)]
    for run_id in run_ids:
        # A second message for each run (as a broker redelivery or the reaper's resend would send): both
        # workers get the same run, the claim lets one execute it.
        dispatch_run(run_id, QUEUE)

    for run_id in run_ids:
        assert wait_for_state(run_id, TERMINAL, timeout=120) == "successful"

    hosts = {worker.hostname for worker in workers}
    with db.session_scope() as session:
        executed = [get_run(session, run_id) for run_id in run_ids]
    assert all(run.attempt == 1 and run.worker_host in hosts for run in executed)
    # Each worker held one run at a time, so the other host took its share.
    assert {run.worker_host for run in executed} == hosts
    assert sorted(net.executions()) == sorted(f"{run_id} {h}" for run_id in run_ids for h in ("host1", "host2"))
    # `playdeck workers` shows which host runs what.
    listed = playdeck("workers")
    assert listed.returncode == 0, listed.stderr
    assert all(hostname in listed.stdout for hostname in hosts)
