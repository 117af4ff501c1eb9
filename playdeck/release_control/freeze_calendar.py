"""When a freeze window is in effect: pure evaluation of windows at an instant the caller gives (a clock is a
parameter, so tests use fixed instants), with ``zoneinfo``.

A window is weekly ("Fri 16:00" – "Mon 08:00"), yearly ("Dec 20" – "Jan 3", a date alone meaning its 00:00)
or ad hoc (two instants). Recurring ends are wall times in the window's zone: a range whose end comes before
its start crosses the week's or the year's end. The end is the instant deploys are allowed again.

Wall times that a DST change skips or repeats follow RFC 5545 for a skipped time (read with the offset before
the change: 02:30 on the spring-forward night is 03:30 summer time); a repeated time is its first occurrence
as a start and its second as an end, so a freeze is never shortened by the clock change.

Overlapping or touching windows chain: a deploy is refused until the end of the whole chain (``status``).
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from playdeck.errors import ValidationError

WEEKLY, YEARLY, ADHOC = "weekly", "yearly", "adhoc"
KINDS = (WEEKLY, YEARLY, ADHOC)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEK_MINUTES = 7 * 24 * 60
# Windows that keep chaining (each starts before the last ends) are followed this far ahead, then reported as
# frozen for longer (``open_ended``): a calendar with no gap at all must not cost a page its time.
CHAIN_HORIZON = dt.timedelta(days=60)
MAX_SPEC_CHARS = 40

_TIME = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})"
_WEEKLY_RE = re.compile(rf"(?P<day>[A-Za-z]{{3,9}})\s+{_TIME}")
_YEARLY_RE = re.compile(
    rf"(?:(?P<mname>[A-Za-z]{{3,9}})\s+(?P<day>\d{{1,2}})|(?P<mnum>\d{{1,2}})-(?P<dnum>\d{{1,2}}))(?:\s+{_TIME})?"
)
_FULL_NAMES = {name.lower(): index for index, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}  # fmt: skip
_FULL_MONTHS = {name.lower(): index for index, name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"))}  # fmt: skip
# A non-leap year, to check that a month has the day (Feb 29 is refused: most years lack it).
_PLAIN_YEAR = 2027


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone(key: object, field_name: str = "timezone") -> zoneinfo.ZoneInfo:
    """An IANA zone by name; a name that is not in the zone database is refused (never read as a path)."""
    if not isinstance(key, str) or key not in _zone_names():
        raise ValidationError(field_name, f"unknown time zone {key!r}: use an IANA name such as Europe/Berlin or UTC")
    return zoneinfo.ZoneInfo(key)


def _spec_text(text: object, field_name: str, example: str) -> str:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_SPEC_CHARS:
        raise ValidationError(field_name, f"must be text such as {example!r}")
    return " ".join(text.split())


def _minutes(match: re.Match[str], field_name: str) -> int:
    if match.group("hour") is None:
        return 0
    hour, minute = int(match.group("hour")), int(match.group("minute"))
    if hour > 23 or minute > 59:
        raise ValidationError(field_name, f"{hour:02d}:{minute:02d} is not a time of day (00:00-23:59)")
    return hour * 60 + minute


def parse_weekly(text: object, field_name: str) -> int:
    """Minutes after Monday 00:00 of a weekly point such as "Fri 16:00"."""
    text = _spec_text(text, field_name, "Fri 16:00")
    match = _WEEKLY_RE.fullmatch(text)
    day = match and match.group("day").lower()
    index = next((i for i, name in enumerate(WEEKDAYS) if name.lower() == day), _FULL_NAMES.get(day or ""))
    if match is None or index is None:
        raise ValidationError(field_name, f"{text!r} is not a weekday and time such as 'Fri 16:00'")
    return index * 24 * 60 + _minutes(match, field_name)


def _month(match: re.Match[str]) -> int | None:
    if match.group("mnum"):
        return int(match.group("mnum"))
    name = match.group("mname").lower()
    index = next((i for i, short in enumerate(MONTHS) if short.lower() == name), _FULL_MONTHS.get(name))
    return None if index is None else index + 1


def parse_yearly(text: object, field_name: str) -> tuple[int, int, int]:
    """(month, day, minutes after 00:00) of a yearly point such as "Dec 20", "Dec 20 18:00" or "12-20"."""
    text = _spec_text(text, field_name, "Dec 20")
    match = _YEARLY_RE.fullmatch(text)
    month = _month(match) if match else None
    if match is None or month is None or not 1 <= month <= 12:
        raise ValidationError(field_name, f"{text!r} is not a date such as 'Dec 20' or 'Dec 20 18:00'")
    day = int(match.group("day") or match.group("dnum"))
    if (month, day) == (2, 29):
        raise ValidationError(field_name, "Feb 29 is missing from most years: use Feb 28 or Mar 1")
    try:
        dt.date(_PLAIN_YEAR, month, day)
    except ValueError:
        raise ValidationError(field_name, f"{MONTHS[month - 1]} has no day {day}") from None
    return month, day, _minutes(match, field_name)


def parse_local(text: object, field_name: str, where: zoneinfo.ZoneInfo, *, later: bool) -> dt.datetime:
    """An ad hoc window's start or end ("2026-12-24 18:00", ISO 8601; without an offset, a wall time in
    ``where``) as an aware UTC instant."""
    text = _spec_text(text, field_name, "2026-12-24 18:00")
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(field_name, f"{text!r} is not a date and time such as '2026-12-24 18:00'") from None
    if not dt.datetime(1971, 1, 1) <= value.replace(tzinfo=None) <= dt.datetime(9998, 1, 1):
        raise ValidationError(field_name, "must lie between 1971 and 9998")
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return wall_to_utc(value, where, later=later)


def weekly_text(minutes: int) -> str:
    day, rest = divmod(minutes, 24 * 60)
    return f"{WEEKDAYS[day]} {rest // 60:02d}:{rest % 60:02d}"


def yearly_text(point: tuple[int, int, int]) -> str:
    month, day, minutes = point
    return f"{MONTHS[month - 1]} {day}" + (f" {minutes // 60:02d}:{minutes % 60:02d}" if minutes else "")


def wall_to_utc(naive: dt.datetime, where: zoneinfo.ZoneInfo, *, later: bool) -> dt.datetime:
    """The instant a wall time in ``where`` names. A skipped time (spring forward) reads with the offset
    before the change (fold 0, RFC 5545); a repeated one (fall back) is the first of its two instants, or
    with ``later`` (a window's end) the second."""
    first = naive.replace(tzinfo=where, fold=0).astimezone(dt.UTC)
    if not later:
        return first
    # In a gap fold 1 reads with the offset after the change: an earlier instant, never chosen here.
    return max(first, naive.replace(tzinfo=where, fold=1).astimezone(dt.UTC))


@dataclass(frozen=True)
class Window:
    """A stored window, parsed. ``start``/``end``: minutes after Monday 00:00 (weekly), (month, day, minutes)
    (yearly), or aware UTC instants (ad hoc). ``environment_id`` None: every environment (global)."""

    id: int
    name: str
    kind: str
    where: zoneinfo.ZoneInfo
    start: object
    end: object
    environment_id: int | None = None
    reason: str = ""

    @property
    def label(self) -> str:
        """The window as a person wrote it: "Fri 16:00 – Mon 08:00 Europe/Berlin"."""
        if self.kind == WEEKLY:
            span = f"{weekly_text(self.start)} – {weekly_text(self.end)}"  # type: ignore[arg-type]
        elif self.kind == YEARLY:
            span = f"every {yearly_text(self.start)} – {yearly_text(self.end)}"  # type: ignore[arg-type]
        else:
            span = f"{local_text(self.start, self.where)} – {local_text(self.end, self.where)}"  # type: ignore[arg-type]
        return f"{span} {self.where.key}"


@dataclass(frozen=True)
class Occurrence:
    """One stretch of a window, as aware UTC instants: ``start <= t < end`` is inside."""

    window: Window
    start: dt.datetime
    end: dt.datetime

    def holds(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end


def _weekly(window: Window, at: dt.datetime) -> Iterator[Occurrence]:
    local = at.astimezone(window.where).replace(tzinfo=None)
    monday = dt.datetime.combine(local.date() - dt.timedelta(days=local.weekday()), dt.time())
    length = dt.timedelta(minutes=(window.end - window.start) % WEEK_MINUTES)  # type: ignore[operator]
    # The occurrence holding ``at`` started in this week or the last; the next one starts in this or the next.
    for weeks in (-1, 0, 1):
        start = monday + dt.timedelta(days=7 * weeks, minutes=window.start)  # type: ignore[arg-type]
        yield _occurrence(window, start, start + length)


def _yearly(window: Window, at: dt.datetime) -> Iterator[Occurrence]:
    (month, day, minutes), (end_month, end_day, end_minutes) = window.start, window.end  # type: ignore[misc]
    crosses_new_year = (end_month, end_day, end_minutes) <= (month, day, minutes)
    this_year = at.astimezone(window.where).year
    for year in (this_year - 1, this_year, this_year + 1):
        start = dt.datetime(year, month, day) + dt.timedelta(minutes=minutes)
        end = dt.datetime(year + crosses_new_year, end_month, end_day) + dt.timedelta(minutes=end_minutes)
        yield _occurrence(window, start, end)


def _occurrence(window: Window, start: dt.datetime, end: dt.datetime) -> Occurrence:
    return Occurrence(window, wall_to_utc(start, window.where, later=False), wall_to_utc(end, window.where, later=True))


def occurrences(window: Window, at: dt.datetime) -> Iterator[Occurrence]:
    """The window's occurrences near ``at``: the one holding it (if any) and the next to start after it."""
    if window.kind == WEEKLY:
        return _weekly(window, at)
    if window.kind == YEARLY:
        return _yearly(window, at)
    return iter((Occurrence(window, window.start, window.end),))  # type: ignore[arg-type]


def _evaluate(window: Window, at: dt.datetime) -> tuple[Occurrence | None, Occurrence | None]:
    holding, upcoming = None, None
    for occurrence in occurrences(window, at):
        if occurrence.holds(at):
            holding = occurrence
        elif occurrence.start > at and (upcoming is None or occurrence.start < upcoming.start):
            upcoming = occurrence
    return holding, upcoming


# Per window: the answer of ``around`` and the instants it holds for. Pages ask every few seconds and the
# answer changes only when an occurrence starts or ends; a plain dict (one entry per window, emptied when
# full), since a lost or repeated entry costs only a recomputation.
_ANSWERS: dict[Window, tuple[dt.datetime, dt.datetime, Occurrence | None, Occurrence | None]] = {}
MAX_ANSWERS = 20_000
_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)


def _answer(window: Window, at: dt.datetime) -> tuple[dt.datetime, dt.datetime, Occurrence | None, Occurrence | None]:
    """``around``'s answer and the instants it holds for: from (at most ``at``) until (after ``at``)."""
    known = _ANSWERS.get(window)
    if known is not None and known[0] <= at < known[1]:
        return known
    holding, upcoming = _evaluate(window, at)
    # The same answer holds until the held occurrence ends or the next one starts.
    boundaries = [moment for moment in (holding and holding.end, upcoming and upcoming.start) if moment]
    if len(_ANSWERS) >= MAX_ANSWERS:
        _ANSWERS.clear()
    answer = _ANSWERS[window] = (at, min(boundaries, default=_NEVER), holding, upcoming)
    return answer


def around(window: Window, at: dt.datetime) -> tuple[Occurrence | None, Occurrence | None]:
    """The window's occurrence holding ``at`` (None: none) and its next to start after ``at``."""
    return _answer(window, at)[2:]


@dataclass(frozen=True)
class FreezeStatus:
    """Where an environment stands at ``at``: the windows in effect (``current``), when deploys are allowed
    again (``until``: the end of the chain of overlapping windows, None when not frozen), the windows of
    that chain after the current ones (``chain``), and the next window after that (``next``)."""

    at: dt.datetime
    current: tuple[Occurrence, ...] = ()
    until: dt.datetime | None = None
    chain: tuple[Occurrence, ...] = ()
    next: Occurrence | None = None
    # The chain goes on past CHAIN_HORIZON: ``until`` is only a lower bound.
    open_ended: bool = False

    @property
    def frozen(self) -> bool:
        return bool(self.current)


# A window's next occurrence, ordered by its start (the id breaks ties).
Upcoming = tuple[dt.datetime, int, Occurrence]


class WindowGroup:
    """The windows of one scope (an environment's own, or the global ones), and their last evaluation: the
    occurrences holding an instant and each window's next one, kept for the instants it holds for (until
    any of them starts or ends). A group kept between requests (``freeze_revision``) is evaluated again only
    when that happens, not per request over every window."""

    def __init__(self, windows: Iterable[Window]) -> None:
        self.windows = tuple(windows)
        self._last: tuple[dt.datetime, dt.datetime, tuple[Occurrence, ...], tuple[Upcoming, ...]] | None = None

    def evaluate(self, at: dt.datetime) -> tuple[tuple[Occurrence, ...], tuple[Upcoming, ...]]:
        last = self._last
        if last is not None and last[0] <= at < last[1]:
            return last[2], last[3]
        current, upcoming, until = [], [], _NEVER
        for window in self.windows:
            _, holds_until, held, soon = _answer(window, at)
            until = min(until, holds_until)
            if held:
                current.append(held)
            if soon:
                upcoming.append((soon.start, window.id, soon))
        # One tuple replaced at once: threads of a web process share the group.
        self._last = (at, until, tuple(current), tuple(upcoming))
        return self._last[2], self._last[3]


def by_scope(windows: Iterable[Window]) -> dict[int | None, WindowGroup]:
    """Windows grouped by the environment they freeze (None: the global ones)."""
    scopes: dict[int | None, list[Window]] = {}
    for window in windows:
        scopes.setdefault(window.environment_id, []).append(window)
    return {scope: WindowGroup(found) for scope, found in scopes.items()}


_NO_GROUP = WindowGroup(())


@dataclass
class Calendar:
    """Windows evaluated at one instant for any number of environments (the dashboard asks for every one):
    ``Calendar(windows, at)``, or ``Calendar.of_groups`` with groups kept between calls."""

    windows: Iterable[Window]
    at: dt.datetime
    _by_scope: dict[int | None, WindowGroup] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._by_scope = by_scope(self.windows)

    @classmethod
    def of_groups(cls, groups: dict[int | None, WindowGroup], at: dt.datetime) -> Calendar:
        calendar = cls((), at)
        calendar._by_scope = groups
        return calendar

    def applicable(self, environment_id: int | None) -> list[Window]:
        """The global windows, and the environment's own."""
        own = self._group(environment_id).windows if environment_id is not None else ()
        return [*self._group(None).windows, *own]

    def has_own(self, environment_id: int) -> bool:
        """Whether windows of that environment's own apply (else its status is the global windows')."""
        return environment_id in self._by_scope

    def _group(self, scope: int | None) -> WindowGroup:
        return self._by_scope.get(scope, _NO_GROUP)

    def status(self, environment_id: int | None) -> FreezeStatus:
        shared_current, shared_upcoming = self._group(None).evaluate(self.at)
        own = self._group(environment_id) if environment_id is not None else _NO_GROUP
        own_current, own_upcoming = own.evaluate(self.at)
        current, upcoming = [*shared_current, *own_current], [*shared_upcoming, *own_upcoming]
        heapq.heapify(upcoming)
        if not current:
            return FreezeStatus(self.at, next=upcoming[0][2] if upcoming else None)
        until, chain, open_ended = self._chain(max(held.end for held in current), upcoming)
        return FreezeStatus(
            self.at, tuple(current), until, tuple(chain), upcoming[0][2] if upcoming else None, open_ended
        )

    def _chain(self, until: dt.datetime, upcoming: list[Upcoming]) -> tuple[dt.datetime, list[Occurrence], bool]:
        """Follow the occurrences after ``at`` in start order (a heap holding each window's next one): each that
        starts before the freeze ends (or just as it ends) extends it. Only starts within CHAIN_HORIZON are
        followed, so windows that never leave a gap cost a bounded time. ``upcoming`` is left holding what
        starts after the chain."""
        chain: list[Occurrence] = []
        while upcoming and upcoming[0][0] <= until:
            if upcoming[0][0] - self.at > CHAIN_HORIZON:
                return until, chain, True
            _, window_id, occurrence = heapq.heappop(upcoming)
            if occurrence.end > until:
                chain.append(occurrence)
                until = occurrence.end
            following = around(occurrence.window, occurrence.start)[1]
            if following:
                heapq.heappush(upcoming, (following.start, window_id, following))
        return until, chain, False


def local_text(instant: dt.datetime, where: zoneinfo.ZoneInfo) -> str:
    """An instant as a wall time in ``where``: "Mon 2027-03-29 08:00 CEST"."""
    local = instant.astimezone(where)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"


def utc_text(instant: dt.datetime) -> str:
    return f"{instant.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def end_text(occurrence: Occurrence) -> str:
    """An occurrence's end in its window's zone and in UTC."""
    return f"{local_text(occurrence.end, occurrence.window.where)} ({utc_text(occurrence.end)})"
