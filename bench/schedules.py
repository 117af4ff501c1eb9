"""Schedules (issue 25) on MariaDB: 10,000 schedules, the firing pass's duration and how late fires are, with
the reaper's duty loop on the real clock; and 1,000 schedules due in the same minute, fired by three racing
passes, giving exactly 1,000 runs.

The 10,000 are 9,700 daily cron schedules spread over the day in three zones (a few fall due during the
measurement, as in life) and 300 one-offs due over the next ``WINDOW`` seconds, fired by the duty's own loop
(``playdeck.duties``) at the configured interval. Lateness is the run's queued_at (when the firing transaction
recorded it) minus its fire time.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from types import SimpleNamespace

from sqlalchemy import func, insert, select

from bench.harness import BENCH_USER, Database, Row, loadavg, percentile, run_in_threads, utcnow

SCHEDULES = 10_000
ONE_OFFS = 300
SAME_MINUTE = 1_000
# The one-offs fall due over this many seconds, starting a few seconds after the loop does.
WINDOW = 30
ZONES = ("UTC", "Europe/Berlin", "America/New_York")


def _seed(project_id: int, environment_id: int, schedules: list[dict]) -> None:
    from playdeck import db
    from playdeck.schedules.models import Schedule

    defaults = dict(project_id=project_id, environment_id=environment_id, owner=BENCH_USER, version="1.0.0", ref="",
                    extra_vars_json="{}", limit="", tags_json="[]", check_mode=False, only_new_commits=False,
                    missed_policy="run_once", enabled=True, paused_reason="", created_at=utcnow(),
                    updated_at=utcnow())  # fmt: skip
    for start in range(0, len(schedules), 1000):
        with db.session_scope() as session:
            session.execute(insert(Schedule), [defaults | row for row in schedules[start : start + 1000]])


def _cron_rows(count: int, now: dt.datetime, expression=None) -> list[dict]:
    from playdeck.schedules import timing

    rows = []
    for number in range(count):
        cron = expression or f"{number % 60} {(number // 60) % 24} * * *"
        zone = ZONES[number % len(ZONES)]
        spec = SimpleNamespace(cron=cron, timezone=zone, at=None)
        rows.append({"cron": cron, "timezone": zone, "at": None, "next_fire_at": timing.first_time(spec, now)})
    return rows


def _target() -> tuple[int, int]:
    from playdeck import db
    from playdeck.auth import users
    from playdeck.projects import ensure_sample_project, get_environment

    with db.session_scope() as session:
        project = ensure_sample_project(session)
        users.create_user(session, BENCH_USER, "admin", None)
        return project.id, get_environment(project, "staging").id


def _lateness() -> list[float]:
    from playdeck import db
    from playdeck.models import Run
    from playdeck.schedules.models import ScheduleFire

    with db.session_scope() as session:
        rows = session.execute(
            select(ScheduleFire.fire_time, Run.queued_at).join(Run, Run.id == ScheduleFire.run_id)
        ).all()
    return [(queued - fire_time).total_seconds() for fire_time, queued in rows]


def _timed_passes(settings, stop: threading.Event, durations: list[float]) -> None:
    """The duty's loop (as ``playdeck.duties`` runs it), each pass timed."""
    from playdeck.schedules import firing

    while not stop.is_set():
        started = time.perf_counter()
        firing.fire_due(settings)
        durations.append(time.perf_counter() - started)
        stop.wait(settings.schedule_interval_seconds)


def ten_thousand() -> list[Row]:
    from playdeck.settings import get_settings

    with Database("bench_schedules"):
        project_id, environment_id = _target()
        now = utcnow()
        _seed(project_id, environment_id, _cron_rows(SCHEDULES - ONE_OFFS, now))
        start = now + dt.timedelta(seconds=5)
        one_offs = [start + dt.timedelta(seconds=WINDOW * number / ONE_OFFS) for number in range(ONE_OFFS)]
        _seed(project_id, environment_id, [{"cron": None, "timezone": "UTC", "at": at, "next_fire_at": at}
                                           for at in one_offs])  # fmt: skip
        settings = get_settings()
        durations: list[float] = []
        stop = threading.Event()
        loop = threading.Thread(target=_timed_passes, args=(settings, stop, durations))
        loop.start()
        time.sleep(max(0.0, (one_offs[-1] - utcnow()).total_seconds()) + 3)
        stop.set()
        loop.join()
        late = _lateness()
        load = loadavg()
    interval = settings.schedule_interval_seconds
    note = f"{len(durations)} passes every {interval} s; {len(late)} fires; load {load}"
    return [
        Row(f"schedules: firing pass over {SCHEDULES} schedules (p99)", percentile(durations, 0.99), "s", 1.0,
            note=f"max {max(durations):.3f} s; {note}"),
        Row(f"schedules: fire lateness with {SCHEDULES} schedules (p99)", percentile(late, 0.99), "s", 1.0,
            note=f"median {percentile(late, 0.5):.3f} s, max {max(late):.3f} s; {note}"),
    ]  # fmt: skip


def same_minute() -> list[Row]:
    from playdeck import db
    from playdeck.models import Run
    from playdeck.schedules import firing
    from playdeck.schedules.models import ScheduleFire
    from playdeck.settings import get_settings

    with Database("bench_schedules"):
        project_id, environment_id = _target()
        now = utcnow()
        _seed(project_id, environment_id, _cron_rows(SAME_MINUTE, now, "0 * * * *"))
        # The passes' clock: half a second after the next hour, when all 1,000 are due.
        due = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1, seconds=0.5)
        settings = get_settings()

        def pass_until_done() -> None:
            while firing.fire_due(settings, due):
                pass

        started = time.perf_counter()
        run_in_threads(pass_until_done, 3)
        wall = time.perf_counter() - started
        with db.session_scope() as session:
            runs = session.scalar(select(func.count()).select_from(Run))
            fires = session.scalar(select(func.count()).select_from(ScheduleFire))
        load = loadavg()
    return [
        Row(f"schedules: runs from {SAME_MINUTE} schedules due in one minute, 3 racing passes", runs, "runs",
            SAME_MINUTE, lower_is_better=False,
            note=f"{fires} fire rows; all fired in {wall:.1f} s ({SAME_MINUTE / wall:.0f}/s); load {load}"),
        # More would be a double run: the row above only shows there are not fewer.
        Row("schedules: runs beyond one per fire time", runs - SAME_MINUTE, "runs", 0),
    ]  # fmt: skip


def run() -> list[Row]:
    return ten_thousand() + same_minute()
