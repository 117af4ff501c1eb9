"""Query-string parameters with a clear 400 for anything else: whole numbers, times, run filters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from playdeck.errors import ValidationError
from playdeck.runs.queries import RunFilters
from playdeck.runs.states import RunState

# What a DATETIME column holds in MariaDB/MySQL; a query time outside it is refused rather than compared.
MIN_QUERY_TIME = dt.datetime(1000, 1, 1)
MAX_QUERY_TIME = dt.datetime(9999, 12, 31, 23, 59, 59)
MAX_PAGE = 1_000_000


def int_param(name: str, value: str | None, default: int, minimum: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    # ASCII digits, and not too many: int() refuses "²" (str.isdigit() is true for it) and over 4,300
    # digits, which would be a 500 instead of this 400.
    if not (value.isascii() and value.isdigit() and len(value) <= 20) or not minimum <= int(value) <= maximum:
        raise ValidationError(name, f"must be a whole number from {minimum} to {maximum}, got '{value}'")
    return int(value)


def parse_page(value: str | None, name: str = "page") -> int:
    return int_param(name, value, 1, 1, MAX_PAGE)


def parse_time(name: str, value: str | None) -> dt.datetime | None:
    """An ISO 8601 date or time as naive UTC (how times are stored), or None when not given."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            # OverflowError for a time zone that moves it before year 1 or after 9999.
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ValidationError(name, f"'{value}' is not an ISO 8601 date or time") from None
    if not MIN_QUERY_TIME <= parsed <= MAX_QUERY_TIME:
        raise ValidationError(name, f"must be between {MIN_QUERY_TIME:%Y-%m-%d} and {MAX_QUERY_TIME:%Y-%m-%d}")
    return parsed


def parse_filters(args: Mapping[str, str]) -> RunFilters:
    """Run filters from query-string arguments, with a clear error for each bad one."""
    states = [s for s in (args.get("state") or "").split(",") if s]
    for state in states:
        if state not in RunState.__members__.values():
            raise ValidationError("state", f"'{state}' is not a run state ({', '.join(RunState)})")
    return RunFilters(
        project=args.get("project") or None,
        environment=args.get("environment") or None,
        states=states,
        requested_by=args.get("requested_by") or None,
        since=parse_time("since", args.get("since")),
        until=parse_time("until", args.get("until")),
    )
