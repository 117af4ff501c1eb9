"""When a schedule fires: its first time, a one-off time as given, the previews of a cron expression, and
which fire time a scheduler acts on when it comes late (missed times while no scheduler ran)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from playdeck.errors import ValidationError
from playdeck.schedules import cron
from playdeck.serializers import iso

PREVIEW_COUNT = 5
# Counting missed times stops here: an every-minute schedule whose schedulers were down for weeks is reported
# as "at least" this many, and the pass stays quick.
MAX_COUNTED = 10_000


class Timed(Protocol):
    cron: str | None
    timezone: str
    at: dt.datetime | None


def parse_at(value: object, now: dt.datetime) -> dt.datetime:
    """An ISO 8601 date and time with an offset, in the future, as naive UTC."""
    if not isinstance(value, str) or len(value) > 64:
        raise ValidationError("at", "must be an ISO 8601 date and time with an offset, e.g. 2027-03-01T02:00:00+01:00")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("at", f"'{value}' is not an ISO 8601 date and time") from None
    if parsed.tzinfo is None:
        raise ValidationError("at", f"'{value}' has no offset: add one (e.g. +01:00 or Z) so the time is unambiguous")
    try:
        at = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:
        raise ValidationError("at", f"'{value}' is outside the years Playdeck can store") from None
    if at <= now:
        raise ValidationError("at", f"{parsed.isoformat()} is in the past")
    return at


def first_time(schedule: Timed, now: dt.datetime) -> dt.datetime | None:
    """The schedule's next fire time after ``now`` (a one-off's own time while it is still ahead)."""
    if schedule.cron is None:
        return schedule.at if schedule.at is not None and schedule.at > now else None
    return cron.next_time(cron.parse(schedule.cron), cron.zone(schedule.timezone), now)


def preview(expression: object, timezone: object, now: dt.datetime, count: int = PREVIEW_COUNT) -> list[dict[str, str]]:
    """The next ``count`` fire times, each in the schedule's zone and in UTC (ISO 8601 with offsets)."""
    tz = cron.zone(timezone if timezone not in (None, "") else "UTC")
    times = cron.next_times(cron.parse(expression), tz, now, count)
    return [
        {"local": instant.replace(tzinfo=dt.UTC).astimezone(tz).isoformat(), "utc": iso(instant)} for instant in times
    ]


@dataclass(frozen=True)
class Due:
    """What a scheduler does about a due schedule at ``now``."""

    # The fire time acted on: the latest one not after now.
    fire_time: dt.datetime
    # Earlier fire times passed over (missed while no scheduler ran), at least this many.
    passed_over: int
    # The fire time was itself missed (more than the allowed lateness ago).
    late: bool
    # The schedule's next fire time after this one (None: a one-off, done).
    next_fire_at: dt.datetime | None


def due(schedule: Timed, due_at: dt.datetime, now: dt.datetime, missed_after: float) -> Due:
    """``due_at``: the schedule's next_fire_at, not after ``now``."""
    latest, passed_over, following = due_at, 0, None
    if schedule.cron is not None:
        expression, tz = cron.parse(schedule.cron), cron.zone(schedule.timezone)
        for instant in cron.times_after(expression, tz, due_at):
            if instant > now:
                following = instant
                break
            if passed_over >= MAX_COUNTED:
                # Far behind: the rest is not counted; the next time is worked out from now.
                latest, following = instant, cron.next_time(expression, tz, now)
                break
            latest, passed_over = instant, passed_over + 1
    late = (now - latest).total_seconds() > missed_after
    return Due(latest, passed_over, late, following)
