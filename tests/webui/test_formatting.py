"""Template filters: ISO timestamps and durations as a person reads them."""

from __future__ import annotations

import datetime as dt

import pytest

from webui.formatting import EMPTY, age, duration, timestamp

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "iso, expected",
    [
        ("2024-05-01T11:59:50+00:00", "10 s ago"),
        ("2024-05-01T11:57:00+00:00", "3 min ago"),
        ("2024-05-01T09:00:00+00:00", "3 h ago"),
        ("2024-04-28T12:00:00+00:00", "3 d ago"),
        (None, EMPTY),
    ],
)
def test_age(iso: str | None, expected: str) -> None:
    assert age(iso, now=NOW) == expected


@pytest.mark.parametrize(
    "seconds, expected", [(None, EMPTY), (4.25, "4.2 s"), (75, "1 min 15 s"), (3 * 3600 + 120, "3 h 02 min")]
)
def test_duration(seconds: float | None, expected: str) -> None:
    assert duration(seconds) == expected


def test_timestamp() -> None:
    assert timestamp("2024-05-01T11:59:50.123456+00:00") == "2024-05-01 11:59:50 UTC"
    assert timestamp(None) == EMPTY
