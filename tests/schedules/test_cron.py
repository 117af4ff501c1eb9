"""Cron expressions in a time zone: both DST transitions of Europe/Berlin and America/New_York, a leap day,
"0 2 * * *" on the spring-forward night, and the expressions that are refused."""

from __future__ import annotations

import datetime as dt

import pytest

from playdeck.errors import ValidationError
from playdeck.schedules import cron, timing


def local_times(expression: str, zone: str, after_utc: dt.datetime, count: int) -> list[str]:
    tz = cron.zone(zone)
    times = cron.next_times(cron.parse(expression), tz, after_utc, count)
    return [instant.replace(tzinfo=dt.UTC).astimezone(tz).isoformat() for instant in times]


def test_0200_daily_fires_once_at_0300_on_the_berlin_spring_forward_night():
    # 2027-03-28: clocks go from 02:00 CET to 03:00 CEST; 02:00 does not exist that night.
    assert local_times("0 2 * * *", "Europe/Berlin", dt.datetime(2027, 3, 26, 12), 4) == [
        "2027-03-27T02:00:00+01:00",
        "2027-03-28T03:00:00+02:00",
        "2027-03-29T02:00:00+02:00",
        "2027-03-30T02:00:00+02:00",
    ]


def test_0200_daily_fires_once_on_the_berlin_fall_back_night():
    # 2027-10-31: 02:00-03:00 happens twice (CEST, then CET); it fires at the first.
    times = local_times("0 2 * * *", "Europe/Berlin", dt.datetime(2027, 10, 29, 12), 3)
    assert times == ["2027-10-30T02:00:00+02:00", "2027-10-31T02:00:00+02:00", "2027-11-01T02:00:00+01:00"]


def test_every_30_minutes_over_the_berlin_fall_back_hour_fires_each_wall_time_once():
    times = local_times("*/30 * * * *", "Europe/Berlin", dt.datetime(2027, 10, 30, 23, 15), 5)
    assert times == [
        "2027-10-31T01:30:00+02:00",
        "2027-10-31T02:00:00+02:00",
        "2027-10-31T02:30:00+02:00",
        "2027-10-31T03:00:00+01:00",
        "2027-10-31T03:30:00+01:00",
    ]


def test_times_in_the_new_york_spring_gap_move_on_by_the_gap_and_fire_once():
    # 2027-03-14: 02:00 EST becomes 03:00 EDT. 02:30 fires at 03:30, which "30 2,3" names too: once.
    times = local_times("30 2,3 * * *", "America/New_York", dt.datetime(2027, 3, 13, 12), 4)
    assert times == [
        "2027-03-14T03:30:00-04:00",
        "2027-03-15T02:30:00-04:00",
        "2027-03-15T03:30:00-04:00",
        "2027-03-16T02:30:00-04:00",
    ]


def test_new_york_fall_back_fires_the_repeated_hour_once():
    # 2027-11-07: 01:00-02:00 happens twice (EDT, then EST).
    times = local_times("15 1 * * *", "America/New_York", dt.datetime(2027, 11, 6, 12), 2)
    assert times == ["2027-11-07T01:15:00-04:00", "2027-11-08T01:15:00-05:00"]
    hourly = local_times("0 * * * *", "America/New_York", dt.datetime(2027, 11, 7, 4, 30), 3)
    assert hourly == ["2027-11-07T01:00:00-04:00", "2027-11-07T02:00:00-05:00", "2027-11-07T03:00:00-05:00"]


def test_every_instant_is_strictly_after_the_previous_one_across_a_year_of_transitions():
    for zone in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe"):
        tz = cron.zone(zone)
        times = cron.next_times(cron.parse("*/30 * * * *"), tz, dt.datetime(2027, 1, 1), 366 * 48)
        assert all(a < b for a, b in zip(times, times[1:], strict=False))


def test_leap_day_only_schedule_fires_on_feb_29():
    assert local_times("0 12 29 2 *", "UTC", dt.datetime(2027, 1, 1), 2) == [
        "2028-02-29T12:00:00+00:00",
        "2032-02-29T12:00:00+00:00",
    ]
    # The last day of February: 28 in 2027, 29 in 2028 (dom 28-29 in both, only the 29th exists once).
    assert local_times("0 0 28,29 2 *", "Europe/Berlin", dt.datetime(2028, 2, 1), 3) == [
        "2028-02-28T00:00:00+01:00",
        "2028-02-29T00:00:00+01:00",
        "2029-02-28T00:00:00+01:00",
    ]


def test_day_of_month_or_day_of_week_and_names():
    # Both restricted: either matches (Vixie cron). 2027-01-01 is a Friday.
    assert local_times("0 9 1 * mon", "UTC", dt.datetime(2027, 1, 1), 3) == [
        "2027-01-01T09:00:00+00:00",
        "2027-01-04T09:00:00+00:00",
        "2027-01-11T09:00:00+00:00",
    ]
    assert local_times("0 0 * jan-feb/1 7", "UTC", dt.datetime(2027, 1, 1), 1) == ["2027-01-03T00:00:00+00:00"]
    assert local_times("@hourly", "UTC", dt.datetime(2027, 1, 1, 0, 5), 1) == ["2027-01-01T01:00:00+00:00"]


@pytest.mark.parametrize(
    "expression, message",
    [
        ("* * * *", "needs 5 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("* 24 * * *", "hour: 24 is outside 0-23"),
        ("*/0 * * * *", "step must be at least 1"),
        ("5-1 * * * *", "runs backwards"),
        ("0 0 30 2 *", "names no day that exists"),
        ("0 0 * * funday", "one of sun"),
        ("0 0 * * * ; rm -rf /", "needs 5 fields"),
        ("x" * 101, "longer than 100"),
        ("", "is required"),
    ],
)
def test_invalid_expressions_are_refused_with_the_reason(expression, message):
    with pytest.raises(ValidationError, match=message):
        cron.parse(expression)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "/etc/localtime"])
def test_unknown_zones_are_refused(zone):
    with pytest.raises(ValidationError, match="timezone"):
        cron.zone(zone)


def test_preview_gives_local_and_utc():
    rows = timing.preview("0 2 * * *", "Europe/Berlin", dt.datetime(2027, 3, 27, 12))
    assert rows[0] == {"local": "2027-03-28T03:00:00+02:00", "utc": "2027-03-28T01:00:00+00:00"}
    assert len(rows) == 5


def test_a_one_off_time_needs_an_offset_and_a_future():
    now = dt.datetime(2027, 1, 1, 12)
    assert timing.parse_at("2027-01-01T14:00:00+01:00", now) == dt.datetime(2027, 1, 1, 13)
    with pytest.raises(ValidationError, match="in the past"):
        timing.parse_at("2027-01-01T12:00:00Z", now)
    with pytest.raises(ValidationError, match="no offset"):
        timing.parse_at("2027-06-01T12:00:00", now)
    with pytest.raises(ValidationError, match="not an ISO 8601"):
        timing.parse_at("tomorrow", now)
