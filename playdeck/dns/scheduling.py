"""Regeneration runs: when a zone gets one, coalesced, serialised per zone, never lost.

A regeneration is a run of the built-in ``dns`` project (the zone playbook), on the ``dns`` queue, in an
environment named after the zone. So it shows in the run list with its log, is cancelled, timed out,
reaped and retried like any run, and the project's environment lock (``playdeck.runs.locks``) keeps two
regenerations of one zone from running at once — serials stay monotonic.

Coalescing: a change asks for a run with ``schedule``; if the zone already has one *queued*, that run
will export the change (it exports whatever is committed when it starts), so no run is added. A change
arriving while a regeneration runs finds none queued and adds exactly one, which waits for the lock.
Spacing: a run is held (``Run.not_before``, the broker's countdown) until the zone's previous run
started at least ``dns_regeneration_spacing_seconds`` ago, so during a burst each run carries seconds
of changes rather than the few that arrived while the last one ran; a lone change starts at once.

The zone's dirty marker (``change_seq > regenerated_seq``) is the truth, not the broker: the reaper
calls ``schedule_dirty`` every pass, so a zone whose run vanished (lost message, dead worker) gets one.

A deleted zone gets a run the same way (``schedule`` finds it too), in the same environment, so the lock
keeps its removal and the zone's regenerations apart. What a run does is decided when it starts
(``regeneration.begin_run``): a run queued for a live zone that is deleted before it starts removes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from playdeck import duties
from playdeck.db import session_scope
from playdeck.dns.changes import lock_zone
from playdeck.dns.models import CHANGED_ZONES, Zone
from playdeck.dns.regeneration import deleted_zones, dirty_zones
from playdeck.errors import PlaydeckError
from playdeck.models import Environment, Project, Run, utcnow
from playdeck.projects import DNS_PROJECT, add_project
from playdeck.runs import locks
from playdeck.runs.conditions import is_active
from playdeck.runs.dispatch import dispatch_after_commit
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.settings import get_settings

log = logging.getLogger(__name__)

DNS_PLAYBOOK = "dns-zone.yml"
ZONE_VAR = "dns_zone"
SCHEDULER = "playdeck-dns"
# Regeneration is idempotent: a run lost with its worker is simply run again.
RETRY_LOST_RUNS = 3
# A regeneration that takes longer than this is stuck (a 100,000-record zone takes seconds).
RUN_TIMEOUT_SECONDS = 600
ENVIRONMENT_NAME_LENGTH = 100
# States after which the reaper may start another run for a zone still dirty: a failed, timed-out or
# canceled regeneration waits for the next change (or a person), rather than failing every pass.
RESCHEDULE_AFTER = frozenset({RunState.SUCCESSFUL.value, RunState.LOST.value})
# A deleted zone gets no next change and no person can see it: after a failed removal (BIND down, a
# wrong rndc key) the reaper tries again this long after the last attempt ended. Its name stays taken
# until the removal succeeds.
REMOVAL_RETRY_SECONDS = 300


@dataclass(frozen=True)
class Scheduled:
    zone: str
    run_id: int
    queue: str
    not_before: dt.datetime | None = None


def dns_project(session: Session) -> Project:
    """The built-in project whose runs regenerate zones; created on first use."""
    project = session.scalar(select(Project).where(Project.name == DNS_PROJECT))
    if project is None:
        project = add_project(
            session,
            DNS_PROJECT,
            DNS_PLAYBOOK,
            {},
            description="Regenerates BIND zones from the records in Playdeck (one environment per zone).",
            retry_lost_runs=RETRY_LOST_RUNS,
            run_timeout_seconds=RUN_TIMEOUT_SECONDS,
            lock_deploys=True,
        )
    return project


def environment_name(zone: Zone) -> str:
    """The zone's name without the root dot; a name too long for the column is cut and made unique
    with a hash of the whole. Never the zone's id: a zone deleted and created again must have its
    removal and its new regenerations in one environment, under one lock."""
    name = zone.name.rstrip(".") or "root"
    if len(name) <= ENVIRONMENT_NAME_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[: ENVIRONMENT_NAME_LENGTH - len(digest) - 1]}-{digest}"


def zone_environment(session: Session, project: Project, zone: Zone) -> Environment:
    name = environment_name(zone)
    environment = session.scalar(
        select(Environment).where(Environment.project_id == project.id, Environment.name == name)
    )
    if environment is None:
        environment = Environment(project_id=project.id, name=name, inventory=get_settings().dns_inventory)
        session.add(environment)
        session.flush()
    return environment


def _queued_run(session: Session, environment: str) -> int | None:
    """The zone's queued run, if any: the common case during a burst, answered with one statement."""
    return session.scalar(
        select(Run.id)
        .join(Environment, Run.environment_id == Environment.id)
        .join(Project, Environment.project_id == Project.id)
        .where(Project.name == DNS_PROJECT, Environment.name == environment, Run.state == RunState.QUEUED.value)
        .limit(1)
    )


def schedule(session: Session, zone_name: object, requested_by: str = SCHEDULER) -> Scheduled | None:
    """In the caller's transaction: queue a run of the zone unless one is already queued — a
    regeneration, or for a deleted zone its removal. Its message is sent when the caller commits."""
    # The zone's row lock makes two schedulers of one zone take turns: one adds the run, the other sees it.
    return _schedule(session, lock_zone(session, zone_name, deleted=None), requested_by)


def schedule_changed(session: Session, requested_by: str = SCHEDULER) -> list[Scheduled]:
    """Last in a writer's transaction: ``schedule`` for every zone whose change_seq the transaction moved
    (``models.CHANGED_ZONES``: the zone written, reverse zones given automatic PTRs). Their rows are
    locked already: every write locks its zone first."""
    scheduled = []
    for name, zone in sorted(session.info.pop(CHANGED_ZONES, {}).items()):
        try:
            run = _schedule(session, zone, requested_by)
        except PlaydeckError as exc:
            # Refused before writing anything (the zone playbook missing, say): the change stands, the
            # zone stays dirty in the DB, and the reaper's schedule_dirty queues the run once it can.
            log.warning("zone %s changed but no regeneration run was queued (the reaper will): %s", name, exc)
            continue
        if run is not None:
            scheduled.append(run)
    return scheduled


def _schedule(session: Session, zone: Zone, requested_by: str) -> Scheduled | None:
    if _queued_run(session, environment_name(zone)) is not None:
        return None
    project = dns_project(session)
    environment = zone_environment(session, project, zone)
    request = RunRequest(
        project=DNS_PROJECT,
        environment=environment.name,
        kind="dns",
        extra_vars={ZONE_VAR: zone.name},
        requested_by=requested_by,
        not_before=_spaced_start(session, zone, project, environment),
        platform=True,
    )
    run = request_run(session, request)
    # Sent when the caller commits; if the broker refuses, the run stays queued and the reaper re-sends it.
    dispatch_after_commit(session, run.id, run.queue, run.not_before)
    return Scheduled(zone.name, run.id, run.queue, run.not_before)


def _spaced_start(session: Session, zone: Zone, project: Project, environment: Environment) -> dt.datetime | None:
    """When the zone's next run may start: the spacing after the start of its running run (the lock's
    holder: claimed, maybe not yet begun) or else of its last run; None if that is past."""
    latest = {locks.holder(session, project.id, environment.id), zone.last_run_id} - {None}
    started = session.scalar(select(func.max(Run.started_at)).where(Run.id.in_(latest))) if latest else None
    if started is None:
        return None
    not_before = started + dt.timedelta(seconds=get_settings().dns_regeneration_spacing_seconds)
    return not_before if not_before > utcnow() else None


def request_regeneration(session: Session, zone_name: object, requested_by: str = SCHEDULER) -> int | None:
    """``schedule``, for the run id: None when a queued run already covers the zone."""
    scheduled = schedule(session, zone_name, requested_by)
    return None if scheduled is None else scheduled.run_id


@dataclass
class Write:
    """A transaction changing DNS data (``writing``): its session, then the runs it queued."""

    session: Session
    scheduled: list[Scheduled] = field(default_factory=list)

    def run_for(self, zone_name: str) -> int | None:
        """The run queued for the zone, or None (a queued run already covered it, or it did not change)."""
        return next((run.run_id for run in self.scheduled if run.zone == zone_name), None)


@contextmanager
def writing(requested_by: str) -> Iterator[Write]:
    """One short transaction for a change to DNS data: it commits together with a regeneration run (or a
    removal) queued for every zone it changed; the runs are sent after the commit. So a change and its
    run are never apart, and a change that rolls back queues nothing."""
    with session_scope() as session:
        write = Write(session)
        yield write
        write.scheduled = schedule_changed(session, requested_by)


def schedule_dirty() -> list[int]:
    """For the reaper: a run for every dirty or deleted zone that has none queued or running. After a
    failed regeneration a dirty zone waits for the next change (or a person); a deleted zone's removal
    is tried again ``REMOVAL_RETRY_SECONDS`` after the last run ended. Returns the runs queued."""
    with session_scope() as session:
        candidates = [
            (zone.name, environment_name(zone), zone.last_run_id, zone.deleted_at is not None)
            for zone in dirty_zones(session) + deleted_zones(session)
        ]
        if not candidates:
            return []
        project = dns_project(session)
        busy = set(
            session.scalars(
                select(Environment.name)
                .join(Run, Run.environment_id == Environment.id)
                .where(Run.project_id == project.id, is_active())
            )
        )
        last_runs = {
            run_id: (state, finished_at)
            for run_id, state, finished_at in session.execute(
                select(Run.id, Run.state, Run.finished_at).where(
                    Run.id.in_([last_run_id for _, _, last_run_id, _ in candidates if last_run_id])
                )
            )
        }
    queued = []
    for zone_name, environment, last_run_id, deleted in candidates:
        if environment in busy:
            continue
        if last_run_id is not None and not _due(last_runs.get(last_run_id), deleted):
            continue
        with session_scope() as session:
            run_id = request_regeneration(session, zone_name)
        if run_id is not None:
            what = "is deleted but not yet removed from the DNS server" if deleted else "has changes no run covers"
            log.warning("zone %s %s: queued run %s", zone_name, what, run_id)
            queued.append(run_id)
    return queued


def _due(last_run: tuple[str, dt.datetime | None] | None, deleted: bool) -> bool:
    """Whether a zone whose last run ended so (state, finished_at) gets another one now."""
    if last_run is None:
        return False
    state, finished_at = last_run
    if state in RESCHEDULE_AFTER:
        return True
    return deleted and finished_at is not None and (utcnow() - finished_at).total_seconds() >= REMOVAL_RETRY_SECONDS


# Every reaper pass: the dirty marker, not a broker message, says a zone needs a run.
DIRTY_ZONES = duties.register("dns dirty zones", lambda settings, now: schedule_dirty())
