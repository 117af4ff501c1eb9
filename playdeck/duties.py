"""Periodic duties: the work the reaper process does over and over, registered by the domain it belongs to.

A domain module calls ``register`` at import (runs: lost runs and forgotten messages; DNS: dirty zones;
purge; webhook sending); the reaper (``playdeck.reaper``) imports those modules and keeps every registered
duty going. So a new duty (schedules, approval expiry) is one ``register`` line in its own module and one
name in the reaper's list of domains, never an edit to the loop.

A duty opens its own short transactions (nothing is shared between duties), and one that raises is
logged and tried again at its next time: a DB outage or a bug in one duty stops none of the others.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from playdeck.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duty:
    name: str
    # Does one pass and returns what it did (for reports and tests). ``now`` is None but in tests that
    # set the clock: each duty then reads the clock its data is judged by.
    run: Callable[[Settings, dt.datetime | None], object]
    # Seconds between passes; None: the reaper's own interval (``reaper_interval_seconds``).
    every: float | Callable[[Settings], float] | None = None

    def interval(self, settings: Settings) -> float:
        if self.every is None:
            return settings.reaper_interval_seconds
        return self.every(settings) if callable(self.every) else self.every


# By name, in registration order; a second registration of a name replaces the first.
REGISTRY: dict[str, Duty] = {}


def register(
    name: str,
    run: Callable[[Settings, dt.datetime | None], object],
    every: float | Callable[[Settings], float] | None = None,
) -> Duty:
    duty = Duty(name, run, every)
    REGISTRY[name] = duty
    return duty


def registered() -> list[Duty]:
    return list(REGISTRY.values())


@dataclass(frozen=True)
class Outcome:
    result: object = None
    failed: bool = False


def perform(duty: Duty, settings: Settings, now: dt.datetime | None = None) -> Outcome:
    """One pass of one duty; an exception is logged and becomes a failed outcome, never the caller's."""
    try:
        return Outcome(duty.run(settings, now))
    except Exception:
        log.exception("duty %r failed; it is tried again at its next time", duty.name)
        return Outcome(failed=True)


def _keep_performing(duty: Duty, settings: Settings, stop: threading.Event) -> None:
    while not stop.is_set():
        perform(duty, settings)
        stop.wait(duty.interval(settings))


def start(settings: Settings, duties: Iterable[Duty]) -> threading.Event:
    """Each duty on a daemon thread of its own, first pass now, until the returned event is set: a slow
    pass (a webhook receiver that times out, a large purge) delays only its own duty."""
    stop = threading.Event()
    for duty in duties:
        threading.Thread(
            target=_keep_performing, args=(duty, settings, stop), name=f"duty-{duty.name}", daemon=True
        ).start()
    return stop
