"""The reaper records runs whose worker stopped beating as lost and re-sends forgotten queued runs."""

from __future__ import annotations

import datetime as dt
import os
import signal

import redis
from sqlalchemy import update

from playdeck import db, projects, reaper
from playdeck.models import Run, utcnow
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.runs.transitions import claim_run, control
from testing import fault_report
from tests.conftest import TERMINAL, queue_run, wait_for_state
from tests.runners.test_cancel import processes_of, wait_until
from tests.webui.webui_testing import broker_messages


def queue(environment: str = "staging") -> int:
    """A queued run whose message is in the (embedded) broker, with no worker to take it."""
    return queue_run(RunRequest(project="sampleapp", environment=environment)).id


def age(run_id: int, **seconds_ago: float) -> None:
    now = utcnow()
    values = {column: now - dt.timedelta(seconds=s) for column, s in seconds_ago.items()}
    with db.session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def state_of(run_id: int) -> Run:
    with db.session_scope() as session:
        return get_run(session, run_id)


def test_silent_run_is_lost_and_its_lock_goes_to_the_next_run(embedded):
    holder, beating, waiting = queue(), queue("production"), queue()
    with db.session_scope() as session:
        assert claim_run(session, holder, "worker-a", 4242)
    with db.session_scope() as session:
        assert claim_run(session, beating, "worker-b", 4343)
    age(holder, heartbeat_at=embedded.lost_after_seconds + 5)
    age(beating, heartbeat_at=embedded.lost_after_seconds - 5)

    report = reaper.reap()

    assert report.lost == [holder]
    lost = state_of(holder)
    assert lost.state == "lost" and "no heartbeat from worker worker-a for 45 s" in lost.reason
    assert state_of(beating).state == "running"
    # The lock went with the lost run, and the waiting run was sent to the workers again.
    assert broker_messages(embedded).count(("playdeck.execute_run", [waiting])) == 2
    with db.session_scope() as session:
        assert claim_run(session, waiting, "worker-c", 4444)


def test_forgotten_queued_run_is_sent_again_once_per_interval(embedded):
    forgotten, fresh = queue(), queue("production")
    age(forgotten, dispatched_at=embedded.redispatch_after_seconds + 1)

    assert reaper.reap().redispatched == [forgotten]
    assert reaper.reap().redispatched == []  # not again before another interval
    assert broker_messages(embedded).count(("playdeck.execute_run", [forgotten])) == 2
    assert broker_messages(embedded).count(("playdeck.execute_run", [fresh])) == 1


def test_a_run_waiting_for_a_live_lock_is_not_resent(embedded):
    holder, waiting = queue(), queue()
    with db.session_scope() as session:
        assert claim_run(session, holder, "worker-a", 4242)
    age(waiting, dispatched_at=embedded.redispatch_after_seconds + 1)
    assert reaper.reap().redispatched == []


def test_queued_runs_survive_a_broker_that_lost_its_messages(test_playbooks, redis_url, start_worker):
    with db.session_scope() as session:
        projects.add_project(session, "marker", "marker.yml", {"dev": "local2.ini"})
    run_id = queue_run(RunRequest(project="marker", environment="dev")).id
    redis.Redis.from_url(redis_url).flushdb()  # Redis restarted without persistence
    start_worker()
    age(run_id, dispatched_at=test_playbooks.redispatch_after_seconds + 1)
    assert reaper.reap().redispatched == [run_id]
    assert wait_for_state(run_id, TERMINAL) == "successful"


def test_killed_worker_master_run_is_lost_within_the_bound(test_playbooks, start_worker, monkeypatch):
    with db.session_scope() as session:
        projects.add_project(session, "sleepy", "sleep_long.yml", {"dev": "local2.ini"})
    worker = start_worker(concurrency=1)
    run_id = queue_run(RunRequest(project="sleepy", environment="dev", extra_vars={"sleep_seconds": 661})).id
    wait_until(lambda: processes_of("sleep 661"), 60, "the playbook's sleeps")
    os.killpg(worker.process.pid, signal.SIGKILL)  # master and pool, no warm shutdown
    worker.process.wait()
    killed_at = utcnow()

    settings = test_playbooks
    wait_until(lambda: reaper.reap(settings).lost, 60, "the reaper to declare the run lost")
    lost = state_of(run_id)
    assert lost.state == "lost" and (lost.finished_at - killed_at).total_seconds() <= 60
    start_worker(concurrency=1)  # the new master's sweep stops the dead worker's orphans
    wait_until(lambda: processes_of("sleep 661") == [], 40, "the orphaned sleeps to be stopped")
    assert wait_for_state(run_id, TERMINAL) == "lost"  # and nothing ran it again
    fault_report.record(4, [run_id])


def test_a_worker_host_whose_clock_is_behind_keeps_its_live_runs_and_its_standing(embedded, monkeypatch):
    """Heartbeats carry the database's clock: a worker host two minutes behind (no NTP) beats as well
    as any, where its own clock would have made every run of it look lost and itself gone."""
    from playdeck import workers
    from playdeck.runs import requests, transitions

    skewed = utcnow() - dt.timedelta(seconds=120)
    monkeypatch.setattr(requests, "utcnow", lambda: skewed)
    monkeypatch.setattr(transitions, "utcnow", lambda: skewed)
    monkeypatch.setattr(workers, "utcnow", lambda: skewed)
    run_id = queue()
    with db.session_scope() as session:
        worker = workers.register(session, name="deploy@slow", hostname="slow", pid=4545, queues=["deploy"],
                                  concurrency=1)  # fmt: skip
        assert claim_run(session, run_id, "slow", 4545, worker_id=worker.id)
    with db.session_scope() as session:
        control(session, run_id, beat=True)
        workers.control(session, worker.id, beat=True)
    monkeypatch.undo()

    assert reaper.reap().lost == []
    assert state_of(run_id).state == "running"
    with db.session_scope() as session:
        shown = {view.id: view for view in workers.list_workers(session)}
    assert shown[worker.id].state == "active"
    assert shown[worker.id].heartbeat_age() < 5


def test_a_duty_that_raises_is_logged_and_the_others_still_run(embedded, monkeypatch, caplog):
    """A duty that fails (here a query the DB refuses, as in an outage of its table) is logged and the
    duties after it in the same pass still do their work; a new duty joins by registering, no loop edit."""
    from sqlalchemy import text

    from playdeck import duties

    def broken(settings, now):
        with db.session_scope() as session:
            session.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(duties, "REGISTRY", {"broken": duties.Duty("broken", broken), **duties.REGISTRY})
    forgotten = queue()
    age(forgotten, dispatched_at=embedded.redispatch_after_seconds + 1)

    report = reaper.reap()

    assert report.failed == ["broken"]
    assert report.redispatched == [forgotten]
    assert set(report.results) == {duty.name for duty in duties.registered()} - {"broken"}
    assert "duty 'broken' failed" in caplog.text and "no_such_table" in caplog.text
