"""Quiet hours: a daily window ("22:00"–"07:00" in Europe/Berlin) in which a subscription's messages wait.

Failures (``FAILURE_EVENTS``) always go at once. Any other event is deferred, not dropped: its delivery
is recorded with the window's end as its due time, so the approval request of a night-time deploy is in
the morning's inbox, and the delivery log shows it waiting. A window may span midnight; its end is a wall
time of the zone, so it moves with daylight saving (an end inside a spring-forward gap is taken as the
same wall time with the pre-gap offset, i.e. an hour later).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from playdeck.errors import ValidationError
from playdeck.notifications.events import FAILURE_EVENTS

_TIME_RE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_ZONE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*")


def parse_time(value: Any, field: str) -> dt.time:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise ValidationError(field, "must be a time of day as HH:MM (00:00 to 23:59)")
    return dt.time(int(value[:2]), int(value[3:]))


def parse_zone(value: Any, field: str = "quiet_zone") -> ZoneInfo:
    # Checked by shape first: ZoneInfo would read a path like "../../etc/x" relative to its data directory.
    if not isinstance(value, str) or len(value) > 64 or not _ZONE_RE.fullmatch(value):
        raise ValidationError(field, "must be an IANA time zone such as Europe/Berlin or UTC")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(field, f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin") from None


def window_end(start: dt.time, end: dt.time, zone: ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """If ``now`` (naive UTC) is inside the window, when it ends (naive UTC); None outside it."""
    local = now.replace(tzinfo=dt.UTC).astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= clock < end, local.date()
    else:  # spans midnight
        inside = clock >= start or clock < end
        end_day = local.date() + dt.timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return dt.datetime.combine(end_day, end, tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)


def due_at(event: str, quiet: tuple[str, str, str] | None, now: dt.datetime) -> dt.datetime:
    """When a message of ``event`` may go under the quiet hours ``quiet`` (start, end, zone; None: none)."""
    if quiet is None or event in FAILURE_EVENTS:
        return now
    start, end, zone = quiet
    return window_end(parse_time(start, "quiet_start"), parse_time(end, "quiet_end"), parse_zone(zone), now) or now
