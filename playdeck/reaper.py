"""The reaper: the DB, not the broker or a worker's memory, decides that runs move on.

One process per install (``playdeck reaper``, under supervisord) keeps the periodic duties of every
domain in ``DOMAINS`` going (``playdeck.duties``), each on a thread of its own at its own interval:
lost runs and forgotten queued messages (``playdeck.runs.recovery``), DNS zones with changes no run covers
(``playdeck.dns.scheduling``), the purge of old runs (``playdeck.runs.purge``), the webhook notifications
(``playdeck.webhook_delivery``), the deploys running longer than usual
(``playdeck.notifications.running_long``), the schedules whose time has come (``playdeck.schedules.firing``)
and the expiry of approval requests (``playdeck.release_control.approval_expiry``). A new duty registers in
its own module; its module joins ``DOMAINS``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from playdeck import duties, webhook_delivery
from playdeck.dns import scheduling
from playdeck.notifications import running_long
from playdeck.pipelines import engine as pipelines
from playdeck.release_control import approval_expiry
from playdeck.runs import purge, recovery
from playdeck.schedules import firing
from playdeck.settings import Settings, get_settings

log = logging.getLogger(__name__)

# The modules whose import registers the reaper's duties.
DOMAINS = (recovery, scheduling, purge, webhook_delivery, running_long, firing, approval_expiry, pipelines)


@dataclass
class ReapReport:
    """What one pass of every duty did: each duty's result by its name, and the duties that raised."""

    results: dict[str, object] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    @property
    def lost(self) -> list[int]:
        return self.results.get(recovery.LOST_RUNS.name) or []

    @property
    def redispatched(self) -> list[int]:
        return self.results.get(recovery.FORGOTTEN_RUNS.name) or []

    @property
    def regenerations(self) -> list[int]:
        return self.results.get(scheduling.DIRTY_ZONES.name) or []


def reap(settings: Settings | None = None, now: dt.datetime | None = None) -> ReapReport:
    """One pass of every registered duty, in registration order, in the caller's thread."""
    settings = settings or get_settings()
    report = ReapReport()
    for duty in duties.registered():
        outcome = duties.perform(duty, settings, now)
        if outcome.failed:
            report.failed.append(duty.name)
        else:
            report.results[duty.name] = outcome.result
    return report


def run_forever(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    log.info(
        "reaper: every %.0f s; lost after %.0f s without heartbeat; re-dispatch after %.0f s; duties: %s",
        settings.reaper_interval_seconds,
        settings.lost_after_seconds,
        settings.redispatch_after_seconds,
        ", ".join(duty.name for duty in duties.registered()),
    )
    # The duties' threads are daemons: this thread waits for ever, and the process ends on a signal.
    duties.start(settings, duties.registered()).wait()
