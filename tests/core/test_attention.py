"""Stuck runs are visible: every queued or running run gets a reason, and the ones stuck longer than
expected are listed with words a person can act on.

Runs are moved through their life with the real services (request, claim, finish); their ages are then
set with an UPDATE and ``now`` is passed explicitly, so no test sleeps."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, update

from playdeck import db, environments
from playdeck.models import Run, RunEvent, utcnow
from playdeck.runs import attention
from playdeck.runs.attention import Kind, needs_attention, state_explanation
from playdeck.runs.events import event_row, store_events
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run, request_cancel
from playdeck.settings import Settings, get_settings


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest) -> Settings:
    """The test runs twice: on SQLite + filesystem broker, and on MariaDB + Redis."""
    return request.getfixturevalue(request.param)


def ago(now: dt.datetime, seconds: float) -> dt.datetime:
    return now - dt.timedelta(seconds=seconds)


def queue(environment: str = "staging", **fields) -> int:
    with db.session_scope() as session:
        return request_run(session, RunRequest("sampleapp", environment, **fields)).id


def start(run_id: int, host: str = "web-3") -> None:
    with db.session_scope() as session:
        assert claim_run(session, run_id, host, 4242)


def finish(run_id: int, state: RunState = RunState.SUCCESSFUL) -> None:
    with db.session_scope() as session:
        assert finish_run(session, run_id, state, rc=0)


def set_times(run_id: int, **values: dt.datetime) -> None:
    with db.session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def running_since(now: dt.datetime, seconds: float, environment: str = "staging", host: str = "web-3") -> int:
    """A running run started ``seconds`` before ``now`` whose worker beat just now, and which printed a line just
    now (a run silent for long is listed for that: see the no-output tests)."""
    run_id = queue(environment)
    start(run_id, host)
    set_times(run_id, queued_at=ago(now, seconds + 1), started_at=ago(now, seconds), heartbeat_at=now)
    with db.session_scope() as session:
        store_events(session, run_id, [event_row(run_id, {"counter": 1, "event": "verbose", "stdout": "working"})])
        session.execute(update(RunEvent).where(RunEvent.run_id == run_id).values(created=now))
    return run_id


def past_run(now: dt.datetime, seconds: float, state: RunState = RunState.SUCCESSFUL) -> int:
    """An ended staging run that took ``seconds``, an hour ago."""
    run_id = queue()
    start(run_id)
    finish(run_id, state)
    set_times(run_id, started_at=ago(now, 3600), finished_at=ago(now, 3600 - seconds))
    return run_id


def listed(now: dt.datetime) -> dict[int, tuple[str, str]]:
    with db.session_scope() as session:
        return {item.run["id"]: (item.kind.value, item.why) for item in needs_attention(session, now=now)}


def explained(run_id: int, now: dt.datetime) -> str | None:
    with db.session_scope() as session:
        return state_explanation(session, get_run(session, run_id), now=now)


# --- queued ---------------------------------------------------------------------------------------


def test_a_fresh_queued_run_is_not_listed_but_its_page_says_it_waits_for_a_worker(embedded):
    now = utcnow()
    run_id = queue()
    set_times(run_id, queued_at=ago(now, 10))

    assert listed(now) == {}
    assert explained(run_id, now) == "queued for 10 s, waiting for a worker on queue 'deploy'"


def test_a_run_nobody_takes_asks_whether_a_worker_consumes_its_queue(services):
    now = utcnow()
    run_id = queue()
    set_times(run_id, queued_at=ago(now, 29))
    assert listed(now) == {}

    set_times(run_id, queued_at=ago(now, 120))
    why = "no worker has taken it for 2 min 00 s: is a worker consuming queue 'deploy'?"
    assert listed(now) == {run_id: ("no_worker", why)}
    assert explained(run_id, now) == why


def test_a_run_behind_the_environment_lock_names_the_run_holding_it(services):
    now = utcnow()
    holder = running_since(now, 60)
    waiting = queue()
    set_times(waiting, queued_at=ago(now, 5))
    why = f"waiting for run #{holder}, which holds the staging deploy lock"

    # The page says so at once; the list only once the wait is longer than the grace.
    assert explained(waiting, now) == why
    assert listed(now) == {}
    set_times(waiting, queued_at=ago(now, 90))
    assert listed(now) == {waiting: ("waiting_for_lock", why)}


def test_a_run_of_a_queue_whose_runs_are_all_running_says_the_workers_are_busy(embedded):
    now = utcnow()
    running_since(now, 60, environment="staging")
    waiting = queue("production")
    set_times(waiting, queued_at=ago(now, 45))

    why = "all workers of queue 'deploy' are busy (1 run running)"
    assert listed(now)[waiting] == ("workers_busy", why)
    assert explained(waiting, now) == why


def test_a_run_of_a_project_without_deploy_locks_never_waits_for_one(embedded):
    now = utcnow()
    running = running_since(now, 60)
    with db.session_scope() as session:
        get_run(session, running).project.lock_deploys = False
    waiting = queue()
    set_times(waiting, queued_at=ago(now, 45))

    assert listed(now)[waiting] == ("workers_busy", "all workers of queue 'deploy' are busy (1 run running)")


# --- running --------------------------------------------------------------------------------------


def test_a_running_run_with_a_fresh_heartbeat_is_explained_and_not_listed(embedded):
    now = utcnow()
    run_id = running_since(now, 20)
    set_times(run_id, heartbeat_at=ago(now, 2))

    assert listed(now) == {}
    assert explained(run_id, now) == "running on worker web-3, last heartbeat 2 s ago"


def test_a_silent_worker_is_reported_gone_after_three_beats_and_at_least_30_s(services, monkeypatch):
    now = utcnow()
    run_id = running_since(now, 300, host="worker-7.example")
    set_times(run_id, heartbeat_at=ago(now, 29))
    assert listed(now) == {}  # 3 x 5 s is 15 s, but never less than 30 s

    set_times(run_id, heartbeat_at=ago(now, 75))
    why = (
        "no heartbeat from worker worker-7.example for 1 min 15 s: the worker may be gone"
        " (a release manager can force-cancel it)"
    )
    assert listed(now) == {run_id: ("heartbeat_stale", why)}
    assert explained(run_id, now) == why

    monkeypatch.setenv("PLAYDECK_HEARTBEAT_SECONDS", "30")
    get_settings.cache_clear()
    assert listed(now) == {}  # 3 x 30 s = 90 s


def test_a_run_far_past_its_usual_duration_is_listed_with_both(services):
    now = utcnow()
    for seconds in (60, 120, 600):
        past_run(now, seconds)
    past_run(now, 10, RunState.FAILED)  # only successful runs say what is usual
    run_id = running_since(now, 239)
    assert listed(now) == {}  # usually 2 min: flagged after twice that

    set_times(run_id, started_at=ago(now, 300))
    why = "running for 5 min 00 s, usually 2 min 00 s"
    assert listed(now) == {run_id: ("overdue", why)}
    assert explained(run_id, now) == f"running on worker web-3, last heartbeat 0 s ago; {why}"


def test_no_usual_duration_from_fewer_than_three_past_runs(embedded):
    now = utcnow()
    past_run(now, 5)
    past_run(now, 6)
    running_since(now, 3600)
    assert listed(now) == {}


def test_nothing_is_overdue_under_a_minute_however_quick_it_usually_is(embedded):
    now = utcnow()
    for seconds in (5, 6, 7):
        past_run(now, seconds)
    run_id = running_since(now, 59)
    assert listed(now) == {}

    set_times(run_id, started_at=ago(now, 61))
    assert listed(now) == {run_id: ("overdue", "running for 1 min 01 s, usually 6 s")}


def test_a_cancel_not_done_after_15_s_is_listed(embedded):
    now = utcnow()
    run_id = running_since(now, 100)
    with db.session_scope() as session:
        request_cancel(session, run_id, "alice")
    set_times(run_id, cancel_requested_at=ago(now, 10))
    assert listed(now) == {}

    set_times(run_id, cancel_requested_at=ago(now, 40))
    assert listed(now) == {
        run_id: (
            "cancel_pending",
            "cancel requested 40 s ago and not done yet (force-cancel records it at once if its worker is gone)",
        )
    }


def test_each_run_is_listed_once_with_its_most_urgent_reason_first(embedded):
    now = utcnow()
    gone = running_since(now, 100, environment="staging")
    with db.session_scope() as session:
        request_cancel(session, gone, "alice")
    set_times(gone, cancel_requested_at=ago(now, 60), heartbeat_at=ago(now, 60))
    waiting = queue("staging")
    set_times(waiting, queued_at=ago(now, 60))

    with db.session_scope() as session:
        items = needs_attention(session, now=now)
    assert [(item.run["id"], item.kind) for item in items] == [
        (gone, Kind.HEARTBEAT_STALE),
        (waiting, Kind.WAITING_FOR_LOCK),
    ]
    assert items[0].run["worker_host"] == "web-3" and items[0].age_seconds == 100
    assert items[0].to_json()["kind"] == "heartbeat_stale"


# --- ended runs and query bounds ------------------------------------------------------------------


def test_ended_runs_are_never_listed_nor_explained(services):
    now = utcnow()
    old = ago(now, 86400)
    ended = []
    for state in (RunState.FAILED, RunState.LOST, RunState.CANCELED):
        run_id = queue()
        start(run_id)
        with db.session_scope() as session:
            request_cancel(session, run_id, "alice")
        finish(run_id, state)
        set_times(run_id, queued_at=old, started_at=old, heartbeat_at=old, cancel_requested_at=old)
        ended.append(run_id)
    never_started = queue()
    with db.session_scope() as session:
        request_cancel(session, never_started, "bob")
    set_times(never_started, queued_at=old)

    assert listed(now) == {}
    for run_id in [*ended, never_started]:
        assert explained(run_id, now) is None


def test_the_queries_do_not_grow_with_the_number_of_stuck_runs(embedded):
    now = utcnow()
    for environment in ("staging", "production"):
        for seconds in (60, 60, 60):
            run_id = queue(environment)
            start(run_id)
            finish(run_id)
            set_times(run_id, started_at=ago(now, 3600), finished_at=ago(now, 3600 - seconds))
        running_since(now, 600, environment=environment)
    for _ in range(12):
        set_times(queue(), queued_at=ago(now, 300))

    statements: list[str] = []
    engine = db.get_engine()

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        found = listed(now)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert len(found) == 14
    # Active runs (their ids, then those runs), deploy locks, running per queue, the running runs' newest log
    # lines, then one history query per project environment; the runs awaiting approval (with their count).
    assert len(statements) == 5 + 2 + 1, statements
    assert attention.HISTORY_RUNS == 20


# --- awaiting approval ----------------------------------------------------------------------------


def awaiting_total(now: dt.datetime) -> int:
    with db.session_scope() as session:
        return attention.attention_overview(session, now=now)[1]


def test_the_awaiting_total_is_exact_up_to_the_counted_cap_and_recounted_on_the_clock_past_it(
    services, monkeypatch
) -> None:
    """Up to AWAITING_COUNTED waiting runs the total is counted on every request; past it, at most every
    AWAITING_RECOUNT_SECONDS of the clock (which this test moves itself)."""
    clock = [100.0]
    monkeypatch.setattr(attention, "AWAITING_COUNTED", 3)
    monkeypatch.setattr(attention, "awaiting_total", attention.AwaitingTotal(clock=lambda: clock[0]))
    with db.session_scope() as session:
        environments.set_options(session, "sampleapp", "staging", approvals_required=1)
    now = utcnow()
    waiting = [queue() for _ in range(2)]
    assert awaiting_total(now) == 2
    waiting.append(queue())
    assert awaiting_total(now) == 3  # at the cap: counted in full
    waiting.append(queue())
    assert awaiting_total(now) == 3  # past it: the last count, until the clock moves on
    clock[0] += attention.AWAITING_RECOUNT_SECONDS
    assert awaiting_total(now) == 4
    with db.session_scope() as session:
        for run_id in waiting[:3]:
            request_cancel(session, run_id, "admin")
    # Below the cap again: exact at once, whatever the clock.
    assert awaiting_total(now) == 1
