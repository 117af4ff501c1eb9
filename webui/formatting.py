"""Template filters that turn the API's ISO timestamps and durations into words."""

from __future__ import annotations

import datetime as dt

EMPTY = "—"


def _parse(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso)


def timestamp(iso: str | None) -> str:
    if not iso:
        return EMPTY
    return _parse(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return EMPTY
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.1f} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def age(iso: str | None, now: dt.datetime | None = None) -> str:
    if not iso:
        return EMPTY
    now = now or dt.datetime.now(dt.UTC)
    seconds = max(0, int((now - _parse(iso)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def eta(seconds: float | None) -> str:
    """The time left (``playdeck.runs.progress``); None once this run has done more than its baseline."""
    if seconds is None:
        return "more steps than the run compared with: no estimate"
    return f"about {duration(seconds)} left" if seconds >= 1 else "finishing any moment"


def percent(fraction: float | None) -> str:
    return EMPTY if fraction is None else f"{100 * fraction:.0f} %"


FILTERS = {"timestamp": timestamp, "duration": duration, "age": age, "eta": eta, "percent": percent}
