"""Schedules fired by the real reaper processes of `playdeck up` (supervisord) on the rehearsal clock
(``PLAYDECK_SCHEDULE_CLOCK_FILE``), through both DST nights of America/New_York and Europe/Berlin, "0 2 * * *"
on Berlin's spring-forward night and a leap day, in that (chronological) order on one install.

Each scenario's schedule is created (as of the clock's instant) just before the clock file is moved to a few
seconds before its fire time, and deleted afterwards, so that an earlier scenario's schedule is not fired as
"missed" when the clock jumps on. "Fires only once" is shown with a witness: a one-off schedule due just after
the second occurrence of the repeated hour; when the witness has fired, a pass has looked after that second
occurrence, and the cron schedule still has its one fire.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from playdeck import db
from playdeck.schedules import service
from playdeck.schedules.models import Schedule, ScheduleFire
from tests.cli.cli_support import SupervisedPlaydeck, wait_until
from tests.cli.conftest import supervise

UTC = dt.UTC
FIRE_SECONDS = 60
# How far before a fire time the clock is put: a few real seconds of waiting per fire.
LEAD = dt.timedelta(seconds=3)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts)


class Clock:
    """The rehearsal clock's file: written whole (a rename), so a reaper never reads half an instant."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, instant: dt.datetime) -> None:
        partial = self.path.with_suffix(".new")
        partial.write_text(instant.replace(tzinfo=UTC).isoformat())
        os.replace(partial, self.path)


@pytest.fixture
def clocked_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[SupervisedPlaydeck, Clock]]:
    """`playdeck up` whose schedules follow a clock file the test moves (set before anything starts)."""
    clock = Clock(tmp_path / "clock")
    clock.set(utc(2027, 3, 1))
    monkeypatch.setenv("PLAYDECK_SCHEDULE_CLOCK_FILE", str(clock.path))
    monkeypatch.setenv("PLAYDECK_DATA_DIR", str(tmp_path / "d"))
    for supervised in supervise(monkeypatch, tmp_path):
        yield supervised, clock


def add(now: dt.datetime, **timing: str) -> int:
    """A deploy of sampleapp/staging to no host (the run ends at once), owned by the admin `playdeck up` made."""
    given = {"project": "sampleapp", "environment": "staging", "version": "1.0.0", "limit": "nosuchhost", **timing}
    with db.session_scope() as session:
        return service.create(session, given, "admin", now=now).id


def fires(schedule_id: int) -> list[tuple[dt.datetime, str]]:
    with db.session_scope() as session:
        rows = session.execute(
            select(ScheduleFire.fire_time, ScheduleFire.outcome)
            .where(ScheduleFire.schedule_id == schedule_id)
            .order_by(ScheduleFire.fire_time)
        ).all()
    return [tuple(row) for row in rows]


def next_fire(schedule_id: int) -> dt.datetime | None:
    with db.session_scope() as session:
        return session.get_one(Schedule, schedule_id).next_fire_at


def fired(schedule_id: int) -> list[tuple[dt.datetime, str]]:
    return wait_until(lambda: fires(schedule_id), FIRE_SECONDS, f"schedule {schedule_id} to fire")


def remove(*schedule_ids: int) -> None:
    with db.session_scope() as session:
        for schedule_id in schedule_ids:
            service.delete(session, schedule_id)


def once_across_a_repeated_hour(clock: Clock, cron: str, zone: str, first: dt.datetime) -> None:
    """A wall time that happens twice (fall back) fires once, at its first occurrence (``first``, UTC)."""
    schedule_id = add(first - 2 * LEAD, cron=cron, timezone=zone)
    assert next_fire(schedule_id) == first
    clock.set(first - LEAD)
    assert fired(schedule_id) == [(first, "run")]
    second = first + dt.timedelta(hours=1)
    witness = add(second - 2 * LEAD, at=(second + LEAD).replace(tzinfo=UTC).isoformat())
    clock.set(second - LEAD)
    assert fired(witness) == [(second + LEAD, "run")]
    assert fires(schedule_id) == [(first, "run")]
    assert next_fire(schedule_id) == first + dt.timedelta(days=1, hours=1)  # standard time from the next day
    remove(schedule_id, witness)


def test_schedules_fire_on_the_rehearsal_clock_across_dst_nights_and_a_leap_day(clocked_up) -> None:
    _, clock = clocked_up

    # New York springs forward on 2027-03-14: 02:30 does not exist; it fires at 03:30 EDT (07:30 UTC).
    ny_spring = add(utc(2027, 3, 14, 7, 29, 50), cron="30 2 * * *", timezone="America/New_York")
    assert next_fire(ny_spring) == utc(2027, 3, 14, 7, 30)
    clock.set(utc(2027, 3, 14, 7, 30) - LEAD)
    assert fired(ny_spring) == [(utc(2027, 3, 14, 7, 30), "run")]
    assert next_fire(ny_spring) == utc(2027, 3, 15, 6, 30)  # 02:30 EDT
    remove(ny_spring)

    # Berlin springs forward on 2027-03-28: "0 2 * * *" fires once, at 03:00 CEST (01:00 UTC).
    berlin_spring = add(utc(2027, 3, 28, 0, 59, 50), cron="0 2 * * *", timezone="Europe/Berlin")
    witness = add(utc(2027, 3, 28, 0, 59, 50), at="2027-03-28T01:00:03+00:00")
    clock.set(utc(2027, 3, 28, 1, 0) - LEAD)
    assert fired(witness) == [(utc(2027, 3, 28, 1, 0, 3), "run")]
    assert fires(berlin_spring) == [(utc(2027, 3, 28, 1, 0), "run")]
    assert next_fire(berlin_spring) == utc(2027, 3, 29, 0, 0)  # 02:00 CEST
    remove(berlin_spring, witness)

    # Berlin falls back on 2027-10-31: 02:30 happens at 00:30 and 01:30 UTC; it fires at the first only.
    once_across_a_repeated_hour(clock, "30 2 * * *", "Europe/Berlin", utc(2027, 10, 31, 0, 30))
    # New York falls back on 2027-11-07: 01:30 happens at 05:30 and 06:30 UTC.
    once_across_a_repeated_hour(clock, "30 1 * * *", "America/New_York", utc(2027, 11, 7, 5, 30))

    # A leap day: "0 12 29 2 *" fires on 2028-02-29, then not before 2032.
    leap = add(utc(2028, 2, 29, 11, 59, 50), cron="0 12 29 2 *", timezone="UTC")
    clock.set(utc(2028, 2, 29, 12, 0) - LEAD)
    assert fired(leap) == [(utc(2028, 2, 29, 12, 0), "run")]
    assert next_fire(leap) == utc(2032, 2, 29, 12, 0)
    remove(leap)
