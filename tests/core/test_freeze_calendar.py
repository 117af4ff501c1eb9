"""When freeze windows are in effect, at fixed instants: across DST changes in both directions (Europe/Berlin
on the last Sundays of March and October, America/New_York in March and November), yearly ranges across New
Year, weekly ranges across the week's end, and overlapping windows chained."""

from __future__ import annotations

import datetime as dt

import pytest

from playdeck.errors import ValidationError
from playdeck.release_control import freeze_calendar as fc
from playdeck.release_control.freeze_calendar import ADHOC, WEEKLY, YEARLY, Calendar, Window

BERLIN, NEW_YORK = fc.zone("Europe/Berlin"), fc.zone("America/New_York")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def weekly(start: str, end: str, where=BERLIN, window_id: int = 1, name: str = "Weekend", env: int | None = None):
    return Window(window_id, name, WEEKLY, where, fc.parse_weekly(start, "start"), fc.parse_weekly(end, "end"), env)


def yearly(start: str, end: str, where=BERLIN, window_id: int = 2, name: str = "Holidays"):
    return Window(window_id, name, YEARLY, where, fc.parse_yearly(start, "start"), fc.parse_yearly(end, "end"))


def adhoc(start: str, end: str, window_id: int = 3, name: str = "Incident", env: int | None = None):
    return Window(window_id, name, ADHOC, fc.zone("UTC"), utc(start), utc(end), env, "incident 42")


def status(at: str, *windows: Window, environment_id: int | None = None):
    return Calendar(list(windows), utc(at)).status(environment_id)


# --- Europe/Berlin: Fri 16:00 – Mon 08:00 over the weekends the clocks change -----------------------------


@pytest.mark.parametrize(
    ("at", "frozen"),
    [
        # Spring forward, Sun 2027-03-28: Friday is still CET (+1), Monday already CEST (+2).
        ("2027-03-26T14:59", False),
        ("2027-03-26T15:00", True),  # Fri 16:00 CET
        ("2027-03-29T05:59", True),  # Mon 07:59 CEST: an end read with Friday's offset would have let this in
        ("2027-03-29T06:00", False),  # Mon 08:00 CEST
        # Fall back, Sun 2026-10-25: Friday is CEST (+2), Monday CET (+1).
        ("2026-10-23T13:59", False),
        ("2026-10-23T14:00", True),  # Fri 16:00 CEST
        ("2026-10-26T06:30", True),  # Mon 07:30 CET: an end read with Friday's offset would have ended at 06:00
        ("2026-10-26T07:00", False),  # Mon 08:00 CET
    ],
)
def test_a_berlin_weekend_window_keeps_its_wall_times_across_the_clock_change(at: str, frozen: bool) -> None:
    assert status(at, weekly("Fri 16:00", "Mon 08:00")).frozen is frozen


def test_the_berlin_weekend_ends_at_monday_8_local_time_and_says_so_in_both_zones() -> None:
    spring = status("2027-03-27T12:00", weekly("Fri 16:00", "Mon 08:00"))
    assert spring.until == utc("2027-03-29T06:00")
    assert fc.end_text(spring.current[0]) == "Mon 2027-03-29 08:00 CEST (2027-03-29 06:00 UTC)"
    autumn = status("2026-10-24T12:00", weekly("Fri 16:00", "Mon 08:00"))
    assert fc.end_text(autumn.current[0]) == "Mon 2026-10-26 08:00 CET (2026-10-26 07:00 UTC)"
    # 63 h of real time in spring, 65 h in autumn: the same 64 wall-clock hours.
    assert spring.current[0].end - spring.current[0].start == dt.timedelta(hours=63)
    assert autumn.current[0].end - autumn.current[0].start == dt.timedelta(hours=65)


def test_a_window_starting_in_the_skipped_hour_starts_when_the_clocks_have_jumped() -> None:
    # 02:30 does not exist on 2027-03-28 in Berlin: read with the offset before the change (RFC 5545), 03:30 CEST.
    window = weekly("Sun 02:30", "Sun 05:00")
    assert not status("2027-03-28T01:29", window).frozen
    held = status("2027-03-28T01:30", window).current[0]
    assert (held.start, held.end) == (utc("2027-03-28T01:30"), utc("2027-03-28T03:00"))


def test_a_window_at_the_repeated_hour_starts_at_its_first_and_ends_at_its_second_occurrence() -> None:
    # 02:30 happens twice on 2026-10-25 in Berlin (00:30 UTC in CEST, 01:30 UTC in CET).
    starting = status("2026-10-25T00:30", weekly("Sun 02:30", "Sun 06:00")).current[0]
    assert starting.start == utc("2026-10-25T00:30")
    ending = status("2026-10-25T01:00", weekly("Sun 01:00", "Sun 02:30")).current[0]
    assert ending.end == utc("2026-10-25T01:30")  # never shortened by the repeated hour
    assert status("2026-10-25T01:29", weekly("Sun 01:00", "Sun 02:30")).frozen


# --- America/New_York ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "frozen"),
    [
        # Spring forward Sun 2026-03-08: Saturday 22:00 EST (-5) = 03:00 UTC, Sunday 06:00 EDT (-4) = 10:00 UTC.
        ("2026-03-08T02:59", False),
        ("2026-03-08T03:00", True),
        ("2026-03-08T09:59", True),
        ("2026-03-08T10:00", False),
        # Fall back Sun 2026-11-01: Saturday 22:00 EDT = 02:00 UTC, Sunday 06:00 EST = 11:00 UTC.
        ("2026-11-01T01:59", False),
        ("2026-11-01T02:00", True),
        ("2026-11-01T10:59", True),
        ("2026-11-01T11:00", False),
    ],
)
def test_a_new_york_night_window_follows_the_new_york_clock(at: str, frozen: bool) -> None:
    assert status(at, weekly("Sat 22:00", "Sun 06:00", where=NEW_YORK)).frozen is frozen


# --- across the year's and the week's end ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "frozen"),
    [
        ("2026-12-19T22:59", False),  # Dec 19 23:59 CET
        ("2026-12-19T23:00", True),  # Dec 20 00:00 CET
        ("2026-12-31T23:30", True),  # New Year's night
        ("2027-01-02T22:59", True),
        ("2027-01-02T23:00", False),  # Jan 3 00:00 CET
        ("2027-06-01T12:00", False),
    ],
)
def test_a_yearly_range_crosses_new_year(at: str, frozen: bool) -> None:
    assert status(at, yearly("Dec 20", "Jan 3")).frozen is frozen


def test_outside_a_yearly_window_the_next_one_is_this_years() -> None:
    found = status("2027-06-01T12:00", yearly("Dec 20", "Jan 3"))
    assert (found.next.start, found.next.end) == (utc("2027-12-19T23:00"), utc("2028-01-02T23:00"))


@pytest.mark.parametrize(
    ("at", "frozen"),
    [
        ("2026-12-06T21:59", False),  # Sun 22:59 CET
        ("2026-12-06T22:00", True),  # Sun 23:00
        ("2026-12-07T00:30", True),  # Mon 01:30: the next week already
        ("2026-12-07T01:00", False),  # Mon 02:00
    ],
)
def test_a_weekly_range_crosses_the_weeks_end(at: str, frozen: bool) -> None:
    assert status(at, weekly("Sun 23:00", "Mon 02:00")).frozen is frozen


def test_the_next_window_is_the_soonest_to_start() -> None:
    found = status("2026-12-02T12:00", weekly("Fri 16:00", "Mon 08:00"), yearly("Dec 20", "Jan 3"))
    assert not found.frozen
    assert (found.next.window.name, found.next.start) == ("Weekend", utc("2026-12-04T15:00"))


# --- scope and chains ------------------------------------------------------------------------------------------


def test_an_environments_window_applies_to_it_alone_and_a_global_one_to_all() -> None:
    own = adhoc("2026-12-01T00:00", "2026-12-02T00:00", window_id=1, name="Prod only", env=7)
    everyone = adhoc("2026-12-03T00:00", "2026-12-04T00:00", window_id=2, name="Everyone")
    calendar = Calendar([own, everyone], utc("2026-12-01T12:00"))
    assert calendar.status(7).frozen and not calendar.status(8).frozen
    assert calendar.status(8).next.window.name == "Everyone"


def test_overlapping_windows_refuse_until_the_end_of_the_whole_chain() -> None:
    weekend = weekly("Fri 16:00", "Mon 08:00", window_id=1)
    # Starts while the weekend is on, ends after it; a third one starts the moment the second ends.
    release = adhoc("2026-12-07T06:00", "2026-12-08T12:00", window_id=2, name="Release")
    audit = adhoc("2026-12-08T12:00", "2026-12-09T00:00", window_id=3, name="Audit")
    later = adhoc("2026-12-10T00:00", "2026-12-11T00:00", window_id=4, name="Later")
    found = status("2026-12-05T12:00", weekend, release, audit, later)
    assert [held.window.name for held in found.current] == ["Weekend"]
    assert [held.window.name for held in found.chain] == ["Release", "Audit"]
    assert found.until == utc("2026-12-09T00:00")
    assert found.next.window.name == "Later"


def test_windows_that_never_leave_a_gap_are_reported_past_the_horizon() -> None:
    first = weekly("Mon 00:00", "Fri 00:00", window_id=1, name="Weekdays")
    second = weekly("Thu 00:00", "Tue 00:00", window_id=2, name="Long weekend")
    found = status("2026-12-02T12:00", first, second)
    assert found.frozen and found.open_ended
    assert found.until - utc("2026-12-02T12:00") > fc.CHAIN_HORIZON


def test_kept_groups_answer_as_a_fresh_calendar_at_every_instant_forward_and_back() -> None:
    """A group's evaluation is reused only while it holds (until one of its windows starts or ends): hour by
    hour over six weeks across the Berlin clock change, then back, it answers as windows evaluated afresh."""
    windows = [
        weekly("Fri 16:00", "Mon 08:00", window_id=1),
        weekly("Wed 02:00", "Wed 03:00", where=NEW_YORK, window_id=2, name="Night", env=7),
        yearly("Mar 27", "Mar 29", window_id=3),
        adhoc("2027-03-30T10:00", "2027-04-02T10:00", window_id=4, env=7),
        adhoc("2027-04-01T00:00", "2027-04-01T06:00", window_id=5, name="Overlap"),
    ]
    groups = fc.by_scope(windows)
    start = utc("2027-03-15T00:30")
    instants = [start + dt.timedelta(hours=hours) for hours in range(6 * 7 * 24)]
    for at in instants + instants[::-7]:
        kept = Calendar.of_groups(groups, at)
        fc._ANSWERS.clear()  # the fresh calendar evaluates every window at ``at``
        fresh = Calendar(windows, at)
        for environment_id in (None, 7, 8):
            assert kept.status(environment_id) == fresh.status(environment_id), (at, environment_id)


# --- bad specs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (fc.parse_weekly, "Fri 25:00", "not a time of day"),
        (fc.parse_weekly, "Caturday 10:00", "not a weekday"),
        (fc.parse_weekly, "Fri", "not a weekday"),
        (fc.parse_weekly, 5, "must be text"),
        (fc.parse_yearly, "Feb 29", "most years"),
        (fc.parse_yearly, "Apr 31", "has no day 31"),
        (fc.parse_yearly, "13-01", "not a date"),
        (fc.parse_yearly, "Dec 20 24:00", "not a time of day"),
        (fc.parse_yearly, "x" * 100, "must be text"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(parse, text, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse(text, "start")
    assert refused.value.field == "start" and message in refused.value.message


@pytest.mark.parametrize("key", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "", None, "europe/berlin"])
def test_an_unknown_zone_is_refused_and_never_read_as_a_path(key) -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        fc.zone(key)


def test_spellings_of_days_and_months_are_read_alike() -> None:
    assert fc.parse_weekly("friday 16:00", "s") == fc.parse_weekly("Fri 16:00", "s") == 4 * 1440 + 960
    assert fc.parse_yearly("December 20", "s") == fc.parse_yearly("12-20", "s") == (12, 20, 0)
    assert fc.yearly_text((12, 20, 0)) == "Dec 20" and fc.yearly_text((1, 3, 510)) == "Jan 3 08:30"
