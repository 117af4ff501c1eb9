"""The schedules duty on MariaDB with a fixed clock: each fire time gives at most one run, with three passes
racing and with a pass killed mid-fire; missed fires by policy; refusals recorded, owners who lost their
rights pause the schedule."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, update

from playdeck import db
from playdeck.auth import users
from playdeck.models import AuditEvent, Environment, Run
from playdeck.schedules import firing, service
from playdeck.schedules.models import Schedule, ScheduleFire
from playdeck.settings import get_settings
from tests.conftest import configure, make_user
from tests.schedules.helpers import racing_passes

T0 = dt.datetime(2027, 3, 27, 12, 0)


def add(owner: str = "dev", now: dt.datetime = T0, **fields) -> int:
    given = {"project": "sampleapp", "environment": "staging", "cron": "0 2 * * *", "timezone": "Europe/Berlin",
             "version": "1.0.0", **fields}  # fmt: skip
    with db.session_scope() as session:
        return service.create(session, given, owner, now=now).id


def fires(schedule_id: int) -> list[tuple[dt.datetime, str, int | None, str]]:
    with db.session_scope() as session:
        rows = session.execute(
            select(ScheduleFire.fire_time, ScheduleFire.outcome, ScheduleFire.run_id, ScheduleFire.reason)
            .where(ScheduleFire.schedule_id == schedule_id)
            .order_by(ScheduleFire.fire_time)
        ).all()
    return [tuple(row) for row in rows]


def run_count() -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count()).select_from(Run))


def schedule_row(schedule_id: int) -> Schedule:
    with db.session_scope() as session:
        schedule = session.get(Schedule, schedule_id)
        session.expunge(schedule)
        return schedule


def setup(monkeypatch, tmp_path, mariadb_url) -> None:
    configure(monkeypatch, data_dir=str(tmp_path / "data"), database_url=mariadb_url)
    make_user("dev", "developer", projects=("sampleapp",))


def test_a_cron_schedule_fires_each_time_once_in_its_zone(monkeypatch, tmp_path, mariadb_url):
    setup(monkeypatch, tmp_path, mariadb_url)
    schedule_id = add()
    # 02:00 Berlin on 2027-03-28 does not exist: it fires at 03:00 CEST = 01:00 UTC.
    assert schedule_row(schedule_id).next_fire_at == dt.datetime(2027, 3, 28, 1, 0)
    settings = get_settings()
    assert firing.fire_due(settings, dt.datetime(2027, 3, 28, 0, 59, 59)) == []
    fired = firing.fire_due(settings, dt.datetime(2027, 3, 28, 1, 0, 0, 300_000))
    assert [(f.outcome, f.reason) for f in fired] == [("run", "")]
    assert firing.fire_due(settings, dt.datetime(2027, 3, 28, 1, 0, 5)) == []
    with db.session_scope() as session:
        run = session.get(Run, fired[0].run_id)
        assert (run.requested_by, run.version, run.state) == ("dev", "1.0.0", "queued")
        request = session.scalars(select(AuditEvent).where(AuditEvent.action == "run.request")).one()
        assert (request.actor, request.address, request.target) == ("dev", f"schedule {schedule_id}", str(run.id))
    assert schedule_row(schedule_id).next_fire_at == dt.datetime(2027, 3, 29, 0, 0)  # 02:00 CEST
    assert run_count() == 1


def test_three_passes_racing_for_one_fire_time_give_one_run(monkeypatch, tmp_path, mariadb_url):
    setup(monkeypatch, tmp_path, mariadb_url)
    schedule_id = add()
    results = racing_passes(monkeypatch, dt.datetime(2027, 3, 28, 1))
    assert sorted(len(result) for result in results) == [0, 0, 1]
    assert [outcome for _, outcome, _, _ in fires(schedule_id)] == ["run"]
    assert run_count() == 1


def test_the_unique_fire_row_refuses_a_second_fire_even_past_the_first_guard(monkeypatch, tmp_path, mariadb_url):
    setup(monkeypatch, tmp_path, mariadb_url)
    schedule_id = add()
    now = dt.datetime(2027, 3, 28, 1)
    [plan] = firing._due_plans(get_settings(), now)
    assert firing._fire(plan, firing.Owners(), now).outcome == "run"
    # A stale pass whose schedule row was put back (as if the conditional update had not stopped it).
    with db.session_scope() as session:
        session.execute(update(Schedule).where(Schedule.id == schedule_id).values(next_fire_at=plan.due_at))
    assert firing._fire(plan, firing.Owners(), now) is None
    assert run_count() == 1


KILLED_PASS = """
import sys, time
from pathlib import Path
from playdeck.schedules import firing
from playdeck.settings import get_settings
import datetime as dt
record = firing._record
def record_then_hang(session, plan, decision, now):
    record(session, plan, decision, now)  # the run and the fire row are written, not committed
    assert decision.run_id is not None
    Path(sys.argv[1]).write_text("inside")
    time.sleep(600)
firing._record = record_then_hang
firing.fire_due(get_settings(), dt.datetime(2027, 3, 28, 1))
"""


def test_a_pass_killed_mid_fire_leaves_nothing_and_the_next_fires_once(monkeypatch, tmp_path, mariadb_url):
    setup(monkeypatch, tmp_path, mariadb_url)
    schedule_id = add()
    marker = tmp_path / "inside"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, "-c", KILLED_PASS, str(marker)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the pass ended before it fired"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # The killed pass holds the schedule row's lock; it is released when its connection drops.
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert fires(schedule_id) == []
    assert run_count() == 0
    fired = firing.fire_due(get_settings(), dt.datetime(2027, 3, 28, 1, 0, 2))
    assert [f.outcome for f in fired] == ["run"]
    assert firing.fire_due(get_settings(), dt.datetime(2027, 3, 28, 1, 0, 3)) == []
    assert run_count() == 1


def test_missed_fires_run_once_or_are_skipped_by_policy_and_recorded(monkeypatch, tmp_path, mariadb_url):
    setup(monkeypatch, tmp_path, mariadb_url)
    run_once = add(cron="0 * * * *", timezone="UTC")
    skip = add(cron="0 * * * *", timezone="UTC", missed_policy="skip")
    # No scheduler from 12:00 until 15:20: 13:00, 14:00, 15:00 passed.
    fired = {f.schedule_id: f for f in firing.fire_due(get_settings(), dt.datetime(2027, 3, 27, 15, 20))}
    assert fired[run_once].outcome == "run" and fired[run_once].fire_time == dt.datetime(2027, 3, 27, 15)
    assert "2 earlier fire time(s) from 2027-03-27 13:00 UTC passed" in fired[run_once].reason
    assert "1200 s late" in fired[run_once].reason
    assert fired[skip].outcome == "skipped" and "missed policy: skip" in fired[skip].reason
    assert fired[skip].run_id is None
    assert run_count() == 1
    # Both go on at their next time.
    for schedule_id in (run_once, skip):
        assert schedule_row(schedule_id).next_fire_at == dt.datetime(2027, 3, 27, 16)
    on_time = firing.fire_due(get_settings(), dt.datetime(2027, 3, 27, 16, 0, 1))
    assert sorted(f.outcome for f in on_time) == ["run", "run"]


def test_an_owner_who_may_no_longer_deploy_there_pauses_the_schedule_with_the_reason(
    monkeypatch, tmp_path, mariadb_url
):
    setup(monkeypatch, tmp_path, mariadb_url)
    schedule_id = add()
    with db.session_scope() as session:
        users.revoke_project(session, users.get_user(session, "dev"), "sampleapp")
    fired = firing.fire_due(get_settings(), dt.datetime(2027, 3, 28, 1))
    assert [(f.outcome, f.run_id) for f in fired] == [("paused", None)]
    schedule = schedule_row(schedule_id)
    assert not schedule.enabled
    assert "dev is not a member of project sampleapp" in schedule.paused_reason
    assert firing.fire_due(get_settings(), dt.datetime(2027, 3, 29, 1)) == []
    assert run_count() == 0


def test_a_refusal_at_fire_time_is_recorded_and_the_schedule_goes_on(monkeypatch, tmp_path, mariadb_url):
    setup(monkeypatch, tmp_path, mariadb_url)
    schedule_id = add()
    # A release rule: staging accepts only what succeeded in production first (never, here).
    with db.session_scope() as session:
        staging = update(Environment).where(Environment.name == "staging")
        session.execute(staging.values(requires_success_in="production"))
    fired = firing.fire_due(get_settings(), dt.datetime(2027, 3, 28, 1))
    assert [f.outcome for f in fired] == ["refused"]
    assert "production" in fired[0].reason
    assert schedule_row(schedule_id).enabled
    assert run_count() == 0


def test_a_one_off_schedule_fires_once_and_is_done(monkeypatch, tmp_path, mariadb_url):
    setup(monkeypatch, tmp_path, mariadb_url)
    schedule_id = add(cron=None, at="2027-03-27T14:30:00+01:00", timezone="Europe/Berlin")
    assert schedule_row(schedule_id).next_fire_at == dt.datetime(2027, 3, 27, 13, 30)
    fired = firing.fire_due(get_settings(), dt.datetime(2027, 3, 27, 13, 30, 1))
    assert [f.outcome for f in fired] == ["run"]
    assert schedule_row(schedule_id).next_fire_at is None
    assert firing.fire_due(get_settings(), dt.datetime(2027, 3, 28, 13, 30, 1)) == []
    assert run_count() == 1


def test_only_new_commits_skips_a_fire_when_the_branch_has_not_moved(embedded, tmp_path):
    from testing.git_servers import RepoBuilder
    from tests.git.projects import add_staged_project

    repo = RepoBuilder(tmp_path / "repos", "shop")
    repo.commit("one", {"deploy/site.yml": "- hosts: all\n  tasks: []\n", "deploy/inventory.ini": "web1\n"})
    with db.session_scope() as session:
        add_staged_project(session, "shop", repo.url, git_cache_seconds=0)
    schedule_id = add(owner="admin", project="shop", version="", ref="main", only_new_commits=True,
                      cron="0 * * * *", timezone="UTC")  # fmt: skip
    settings = get_settings()
    first = firing.fire_due(settings, dt.datetime(2027, 3, 27, 13, 0, 1))
    assert [f.outcome for f in first] == ["run"]
    second = firing.fire_due(settings, dt.datetime(2027, 3, 27, 14, 0, 1))
    assert [f.outcome for f in second] == ["skipped"]
    assert second[0].reason.startswith("no new commit on main since the last scheduled deploy")
    repo.commit("two", {"app.txt": "two\n"})
    third = firing.fire_due(settings, dt.datetime(2027, 3, 27, 15, 0, 1))
    assert [f.outcome for f in third] == ["run"]
    with db.session_scope() as session:
        commits = [session.get(Run, f.run_id).commit_sha for f in (*first, *third)]
    assert commits[0] != commits[1] and schedule_row(schedule_id).last_commit_sha == commits[1]
    assert run_count() == 2


def test_a_freeze_refuses_the_fire_and_the_refusal_is_recorded(monkeypatch, tmp_path, mariadb_url):
    from playdeck.release_control import freeze_windows

    setup(monkeypatch, tmp_path, mariadb_url)
    schedule_id = add(cron="* * * * *", timezone="UTC")
    # Freezes are judged by the real clock (the moment the run would be recorded): one around now.
    now = dt.datetime.now(dt.UTC)
    start, end = (f"{now + dt.timedelta(hours=hours):%Y-%m-%d %H:%M}" for hours in (-1, 1))
    with db.session_scope() as session:
        freeze_windows.create_window(session, {
            "name": "Release freeze", "kind": "adhoc", "timezone": "UTC", "reason": "quarter end", "start": start,
            "end": end, "project": "sampleapp", "environment": "staging"}, who="admin")  # fmt: skip
    fired = firing.fire_due(get_settings(), dt.datetime(2027, 3, 27, 12, 1, 0, 200_000))
    assert [f.outcome for f in fired] == ["refused"]
    assert "frozen by 'Release freeze'" in fired[0].reason
    assert fires(schedule_id)[0][1:3] == ("refused", None)
    assert schedule_row(schedule_id).enabled and run_count() == 0
