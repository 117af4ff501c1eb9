"""Cron expressions evaluated in an IANA time zone: parsing, and the fire times after an instant.

Five fields (minute hour day-of-month month day-of-week) with ``*``, lists, ranges, steps and month/day
names, or one of ``@hourly @daily @weekly @monthly @yearly``. As in Vixie cron, when both day fields are
restricted a day matches either; when one is ``*`` only the other counts.

Written here rather than taken from croniter, whose DST handling has shifted between releases and which
asks to be replaced: the wall-clock rules below are the schedule's contract, so they live in one place.

Daylight saving time, by wall clock in the schedule's zone (each wall-clock time fires once):
- A time that does not exist (spring forward: 02:30 in Europe/Berlin on the last Sunday of March) fires at
  the same wall time moved on by the gap, which is the first instant after it when the gap is an hour:
  "0 2 * * *" fires at 03:00 that night, once. A time that becomes equal to another one fires once.
- A time that happens twice (fall back: 02:30 in Berlin on the last Sunday of October) fires at its first
  occurrence only: "0 2 * * *" fires once; "*/30 * * * *" fires at 02:00 and 02:30 once each.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from playdeck.errors import ValidationError
from playdeck.release_control import freeze_calendar

MAX_EXPRESSION_CHARS = 100
# The longest a valid expression can go without firing: Feb 29 on a given weekday comes back within 28 years.
SEARCH_YEARS = 29
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
PART_RE = re.compile(r"(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/([0-9]{1,2}))?")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    # The index of names[0] (months start at 1, days at 0).
    names_from: int = 0


FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, MONTHS, 1),
    # 7 is Sunday too.
    _Field("day of week", 0, 7, DAYS, 0),
)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week


def _value(text: str, field: _Field) -> int:
    if text in field.names:
        return field.names.index(text) + field.names_from
    if not text.isdigit():
        raise ValidationError("cron", f"{field.name}: '{text}' is not a number" + _names_hint(field))
    number = int(text)
    if not field.low <= number <= field.high:
        raise ValidationError("cron", f"{field.name}: {number} is outside {field.low}-{field.high}")
    return number


def _names_hint(field: _Field) -> str:
    return f" or one of {', '.join(field.names)}" if field.names else ""


def _parse_field(text: str, field: _Field) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        match = PART_RE.fullmatch(part)
        if match is None:
            raise ValidationError("cron", f"{field.name}: '{part}' is not a value, range or step (e.g. 5, 1-5, */15)")
        span, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValidationError("cron", f"{field.name}: a step must be at least 1")
        if span == "*":
            low, high = field.low, field.high
        elif "-" in span:
            low, high = (_value(end, field) for end in span.split("-"))
            if low > high:
                raise ValidationError("cron", f"{field.name}: the range {span} runs backwards")
        else:
            low = _value(span, field)
            # "5/15" means from 5 on, by 15.
            high = field.high if step_text else low
        values.update(range(low, high + 1, step))
    return values


def parse(expression: object) -> Cron:
    if not isinstance(expression, str) or not expression.strip():
        raise ValidationError("cron", "is required: five fields (minute hour day-of-month month day-of-week)")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValidationError("cron", f"longer than {MAX_EXPRESSION_CHARS} characters")
    text = " ".join(expression.lower().split())
    text = MACROS.get(text, text)
    fields = text.split(" ")
    if len(fields) != len(FIELDS):
        raise ValidationError(
            "cron", f"needs 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}: '{expression}'"
        )
    minutes, hours, days, months, weekdays = (_parse_field(f, spec) for f, spec in zip(fields, FIELDS, strict=True))
    weekdays = {day % 7 for day in weekdays}
    cron = Cron(
        expression=" ".join(expression.split()),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=frozenset(days),
        months=frozenset(months),
        weekdays=frozenset(weekdays),
        any_day=fields[2].startswith("*"),
        any_weekday=fields[4].startswith("*"),
    )
    if next(_matching_days(cron, dt.date(2000, 1, 1)), None) is None:
        raise ValidationError("cron", f"'{expression}' names no day that exists (e.g. the 30th of February)")
    return cron


def zone(name: object) -> ZoneInfo:
    """An IANA zone by name, as freeze windows take them: only a name in the zone database, never a path."""
    return freeze_calendar.zone(name, "timezone")


def _matching_days(cron: Cron, start: dt.date) -> Iterator[dt.date]:
    day = start
    end = dt.date(min(start.year + SEARCH_YEARS, dt.MAXYEAR), 1, 1)
    while day < end:
        if day.month not in cron.months:
            # Jump to the first of the next month: most of a year-long search is months that cannot match.
            day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            continue
        if cron.day_matches(day):
            yield day
        day += dt.timedelta(days=1)


def to_utc(wall: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A wall-clock time of ``tz`` as a naive UTC instant: the first occurrence of a repeated time, and a
    time in a gap moved on by the gap (fold=0 takes the offset from before the change)."""
    aware = wall.replace(tzinfo=tz, fold=0)
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def _offset_changes(day: dt.date, tz: ZoneInfo) -> bool:
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    return midnight.utcoffset() != (midnight + dt.timedelta(days=1)).utcoffset()


def _day_times(cron: Cron, tz: ZoneInfo, day: dt.date, last: dt.datetime) -> Iterator[dt.datetime]:
    """The day's fire instants after ``last``, in order. On an ordinary day wall order is instant order, so
    hours already past are skipped whole; on a day the offset changes, every time is placed and sorted."""

    def at(hour: int, minute: int) -> dt.datetime:
        return to_utc(dt.datetime(day.year, day.month, day.day, hour, minute), tz)

    if _offset_changes(day, tz):
        yield from sorted({at(hour, minute) for hour in cron.hours for minute in cron.minutes})
        return
    for hour in cron.hours:
        if at(hour, cron.minutes[-1]) <= last:
            continue
        for minute in cron.minutes:
            yield at(hour, minute)


def times_after(cron: Cron, tz: ZoneInfo, after: dt.datetime) -> Iterator[dt.datetime]:
    """The fire times strictly after ``after`` (naive UTC), as naive UTC instants, in order, each once."""
    start_day = (after.replace(tzinfo=dt.UTC).astimezone(tz) - dt.timedelta(days=1)).date()
    last = after
    for day in _matching_days(cron, start_day):
        for instant in _day_times(cron, tz, day, last):
            # A gap's moved-on time can equal a later wall time's (02:30 and 03:30): each instant fires once.
            if instant > last:
                last = instant
                yield instant


def next_times(cron: Cron, tz: ZoneInfo, after: dt.datetime, count: int) -> list[dt.datetime]:
    found = []
    for instant in times_after(cron, tz, after):
        found.append(instant)
        if len(found) == count:
            break
    return found


def next_time(cron: Cron, tz: ZoneInfo, after: dt.datetime) -> dt.datetime | None:
    return next(times_after(cron, tz, after), None)
