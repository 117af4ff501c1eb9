"""Serial arithmetic (RFC 1982) and the max(old + 1, YYYYMMDD00) policy."""

from __future__ import annotations

import datetime as dt

import pytest

from playdeck.dns.serials import next_serial, serial_gt

DAY = dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    ("old", "expected"),
    [
        (0, 2026112700),  # first export: today's first serial
        (2026112700, 2026112701),  # same day: counts on
        (2026112705, 2026112706),
        (2026112699, 2026112700),  # 100th change of the day spills into "tomorrow's" numbers...
        (2026112799, 2026112800),  # ...and keeps counting instead of getting stuck
        (2026112600, 2026112700),  # an older day: jumps to today
        (1, 2026112700),
        (3000000000, 3000000001),  # ahead of the date in serial arithmetic: counts on
        (2**32 - 1, 2026112700),  # wraps: 0 would be next, today's serial is ahead of it
    ],
)
def test_next_serial(old, expected):
    assert next_serial(old, DAY) == expected
    assert serial_gt(next_serial(old, DAY), old)


def test_counting_on_wraps_at_2_to_the_32():
    # In 2200 a date serial (2200010100) is more than 2^31 past 0, so it is not "after" 0: counting wraps.
    assert next_serial(2**32 - 1, dt.date(2200, 1, 1)) == 0
    assert serial_gt(0, 2**32 - 1)


def test_date_rollover_moves_to_the_new_day():
    assert next_serial(2026112705, dt.date(2026, 11, 28)) == 2026112800
    assert next_serial(2026123123, dt.date(2027, 1, 1)) == 2027010100


def test_rfc1982_comparison():
    assert serial_gt(1, 0)
    assert not serial_gt(0, 1)
    assert not serial_gt(5, 5)
    assert serial_gt(10, 2**32 - 10)  # wrapped around
    assert not serial_gt(2**31, 0)  # exactly half the space apart: undefined, so not greater
    assert not serial_gt(0, 2**31)


def test_next_serial_is_always_greater_for_any_old_value():
    for old in range(0, 2**32, 2**32 // 997):
        for day in (dt.date(2000, 1, 1), DAY, dt.date(2099, 12, 31)):
            assert serial_gt(next_serial(old, day), old)
