"""Quiet hours as wall times of a zone: windows within a day and across midnight, across both daylight saving
changes, with fixed clocks; failures are never held back."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from playdeck.errors import ValidationError
from playdeck.notifications.quiet_hours import due_at, parse_time, parse_zone, window_end

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = (dt.time(22), dt.time(7))


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args)


@pytest.mark.parametrize(
    ("now", "ends"),
    [
        (utc(2027, 1, 15, 20, 59), None),  # 21:59 CET
        (utc(2027, 1, 15, 21, 0), utc(2027, 1, 16, 6, 0)),  # 22:00 CET, ends 07:00 CET
        (utc(2027, 1, 16, 3, 0), utc(2027, 1, 16, 6, 0)),  # after midnight
        (utc(2027, 1, 16, 6, 0), None),  # 07:00: over
        # The night clocks go forward (Sun 28 Mar 2027, 02:00 CET → 03:00 CEST): ends 07:00 CEST = 05:00 UTC.
        (utc(2027, 3, 27, 23, 0), utc(2027, 3, 28, 5, 0)),
        # The night clocks go back (Sun 31 Oct 2027, 03:00 CEST → 02:00 CET): ends 07:00 CET = 06:00 UTC.
        (utc(2027, 10, 30, 22, 0), utc(2027, 10, 31, 6, 0)),
    ],
)
def test_a_window_across_midnight_ends_at_its_wall_time(now, ends):
    assert window_end(*NIGHT, BERLIN, now) == ends


def test_a_window_within_a_day():
    lunch = (dt.time(12), dt.time(13, 30))
    assert window_end(*lunch, BERLIN, utc(2027, 7, 1, 10, 15)) == utc(2027, 7, 1, 11, 30)  # 12:15 CEST
    assert window_end(*lunch, BERLIN, utc(2027, 7, 1, 9, 59)) is None


def test_failures_go_at_once_and_the_rest_waits():
    quiet, now = ("22:00", "07:00", "Europe/Berlin"), utc(2027, 1, 15, 23, 0)
    assert due_at("failed", quiet, now) == now
    assert due_at("lost", quiet, now) == now
    assert due_at("approval_requested", quiet, now) == utc(2027, 1, 16, 6, 0)
    assert due_at("succeeded", None, now) == now


@pytest.mark.parametrize("value", ["24:00", "7:00", "07:60", "", None, "07:00\n", 700])
def test_a_bad_time_is_refused(value):
    with pytest.raises(ValidationError, match="HH:MM"):
        parse_time(value, "quiet_start")


@pytest.mark.parametrize("value", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "", None, "Europe/Berlin\n"])
def test_an_unknown_zone_is_refused(value):
    with pytest.raises(ValidationError, match="time zone"):
        parse_zone(value)
