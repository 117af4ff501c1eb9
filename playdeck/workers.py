"""The worker registry: which Celery worker masters run, what each executes, and draining them.

The database is the only channel between ``playdeck workers`` / ``playdeck drain`` and the workers:
the embedded default's filesystem broker has no broadcast, so Celery's remote control cannot reach
them. A worker master registers a row before it forks its pool (the pool processes inherit the id and
record it on the runs they claim), beats ``heartbeat_at``, reads whether it was asked to drain, and
records ``stopped`` when it exits. A row still live whose heartbeat is older than ``GONE_AFTER_BEATS``
beats belongs to a worker that died without saying so: it is shown as ``gone`` (never stored).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from playdeck import audit
from playdeck.db_clock import database_time, database_utcnow
from playdeck.errors import Conflict, NotFound
from playdeck.inputs import check_user_name
from playdeck.models import Environment, Project, Run, Worker, utcnow
from playdeck.runs.states import RunState
from playdeck.serializers import iso
from playdeck.settings import Settings, get_settings

# Re-exported: the worker registry (runners.worker_registry) sets and reads this process's worker here.
from playdeck.worker_identity import current_worker_id, set_current_worker_id  # noqa: F401


class WorkerState(StrEnum):
    ACTIVE = "active"
    DRAINING = "draining"
    STOPPED = "stopped"
    # Shown, never stored: a live row whose worker stopped beating.
    GONE = "gone"


LIVE_STATES = (WorkerState.ACTIVE.value, WorkerState.DRAINING.value)
# A few missed beats, so one slow DB write does not make a healthy worker look dead.
GONE_AFTER_BEATS = 3
# `playdeck workers` shows a gone worker this long after its last beat: long enough to notice one
# that died overnight, short enough that the default list does not turn into a history.
RECENTLY_GONE = dt.timedelta(days=1)


def gone_after(settings: Settings | None = None) -> dt.timedelta:
    return dt.timedelta(seconds=GONE_AFTER_BEATS * (settings or get_settings()).heartbeat_seconds)


# --- the worker master's side --------------------------------------------------------------------


def register(
    session: Session, *, name: str, hostname: str, pid: int, queues: Sequence[str], concurrency: int
) -> Worker:
    now = utcnow()
    worker = Worker(
        name=name,
        hostname=hostname,
        pid=pid,
        queues=",".join(queues),
        concurrency=concurrency,
        state=WorkerState.ACTIVE.value,
        started_at=now,
        heartbeat_at=database_utcnow(),
    )
    session.add(worker)
    session.flush()
    return worker


def control(session: Session, worker_id: int, beat: bool = False) -> str | None:
    """The worker's stored state (draining: it was asked to drain; None: its row is gone); with
    ``beat``, also prove it is alive."""
    if beat:
        session.execute(
            update(Worker)
            .where(Worker.id == worker_id, Worker.state.in_(LIVE_STATES))
            .values(heartbeat_at=database_utcnow())
            .execution_options(synchronize_session=False)
        )
    return session.scalar(select(Worker.state).where(Worker.id == worker_id))


def mark_stopped(session: Session, worker_id: int) -> None:
    """Idempotent: the shutdown signal and the exit hook may both record it."""
    session.execute(
        update(Worker)
        .where(Worker.id == worker_id, Worker.state != WorkerState.STOPPED.value)
        .values(state=WorkerState.STOPPED.value, stopped_at=utcnow())
        .execution_options(synchronize_session=False)
    )


# --- what release managers see -------------------------------------------------------------------


@dataclass(frozen=True)
class ExecutingRun:
    id: int
    project: str
    environment: str
    started_at: dt.datetime | None
    duration_seconds: float | None


@dataclass(frozen=True)
class WorkerView:
    id: int
    name: str
    hostname: str
    pid: int
    queues: list[str]
    concurrency: int
    # As shown: active | draining | stopped | gone.
    state: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime | None
    stopped_at: dt.datetime | None
    drain_requested_at: dt.datetime | None
    drain_requested_by: str | None
    runs: list[ExecutingRun] = field(default_factory=list)
    # The database's time when the view was read: heartbeats are written with that clock.
    observed_at: dt.datetime | None = None

    @property
    def label(self) -> str:
        return f"worker {self.id} ({self.name})"

    def heartbeat_age(self, now: dt.datetime | None = None) -> float:
        """Seconds since its last sign of life (its start, before the first beat)."""
        return ((now or self.observed_at or utcnow()) - (self.heartbeat_at or self.started_at)).total_seconds()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "hostname": self.hostname,
            "pid": self.pid,
            "queues": self.queues,
            "concurrency": self.concurrency,
            "state": self.state,
            "started_at": iso(self.started_at),
            "heartbeat_at": iso(self.heartbeat_at),
            "stopped_at": iso(self.stopped_at),
            "drain_requested_at": iso(self.drain_requested_at),
            "drain_requested_by": self.drain_requested_by,
            "runs": [
                {
                    "id": run.id,
                    "project": run.project,
                    "environment": run.environment,
                    "started_at": iso(run.started_at),
                    "duration_seconds": run.duration_seconds,
                }
                for run in self.runs
            ],
        }


def shown_state(worker: Worker, now: dt.datetime) -> str:
    if worker.state not in LIVE_STATES:
        return worker.state
    last_sign = worker.heartbeat_at or worker.started_at
    return WorkerState.GONE.value if now - last_sign > gone_after() else worker.state


def _views(session: Session, rows: Sequence[Worker]) -> list[WorkerView]:
    now = database_time(session)  # the clock the heartbeats were written with
    executing: dict[int, list[ExecutingRun]] = {}
    if rows:
        running = session.execute(
            select(Run.id, Run.worker_id, Run.started_at, Project.name.label("project"), Environment.name.label("env"))
            .join(Project, Run.project_id == Project.id)
            .join(Environment, Run.environment_id == Environment.id)
            .where(Run.worker_id.in_([row.id for row in rows]), Run.state == RunState.RUNNING.value)
            .order_by(Run.id)
        ).all()
        for run in running:
            seconds = None if run.started_at is None else (now - run.started_at).total_seconds()
            executing.setdefault(run.worker_id, []).append(
                ExecutingRun(run.id, run.project, run.env, run.started_at, seconds)
            )
    return [
        WorkerView(
            id=row.id,
            name=row.name,
            hostname=row.hostname,
            pid=row.pid,
            queues=[queue for queue in row.queues.split(",") if queue],
            concurrency=row.concurrency,
            state=shown_state(row, now),
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            stopped_at=row.stopped_at,
            drain_requested_at=row.drain_requested_at,
            drain_requested_by=row.drain_requested_by,
            runs=executing.get(row.id, []),
            observed_at=now,
        )
        for row in rows
    ]


def list_workers(session: Session, include_stopped: bool = False) -> list[WorkerView]:
    """Live and recently gone workers, oldest first; with ``include_stopped``, every worker ever seen."""
    now = database_time(session)
    query = select(Worker).order_by(Worker.id)
    if not include_stopped:
        last_sign = func.coalesce(Worker.heartbeat_at, Worker.started_at)
        query = query.where(Worker.state.in_(LIVE_STATES), last_sign >= now - RECENTLY_GONE)
    return _views(session, list(session.scalars(query)))


def get_workers(session: Session, worker_ids: Sequence[int]) -> list[WorkerView]:
    rows = list(session.scalars(select(Worker).where(Worker.id.in_(worker_ids)).order_by(Worker.id)))
    return _views(session, rows)


# --- draining ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrainOutcome:
    worker: WorkerView
    # False: it was already draining or stopped, and this request changed nothing.
    requested_now: bool


def select_workers(
    session: Session, reference: str | None = None, host: str | None = None, every: bool = False
) -> list[WorkerView]:
    """The workers a drain is for: one by id or name (``deploy@web1``, or ``deploy`` when only one
    live worker has that name on any host), every live one on ``host``, or ``every`` live one."""
    if reference is not None:
        return [_one_worker(session, reference)]
    query = select(Worker).where(Worker.state.in_(LIVE_STATES)).order_by(Worker.id)
    if host is not None:
        query = query.where(Worker.hostname == host)
    live = [view for view in _views(session, list(session.scalars(query))) if view.state in LIVE_STATES]
    if not live:
        raise NotFound(f"no live worker on {host}" if host is not None else "no live worker")
    return live


def _one_worker(session: Session, reference: str) -> WorkerView:
    if reference.isdigit():
        found = get_workers(session, [int(reference)])
        if not found:
            raise NotFound(f"worker {reference} does not exist; `playdeck workers --all` lists them")
        return found[0]
    named = select(Worker).where(
        or_(Worker.name == reference, Worker.name.startswith(f"{reference}@", autoescape=True))
    )
    # Newest first: after a restart the name belongs to the new worker, not to the gone or stopped rows.
    unstopped = _views(
        session, list(session.scalars(named.where(Worker.state.in_(LIVE_STATES)).order_by(Worker.id.desc())))
    )
    live = [view for view in unstopped if view.state in LIVE_STATES]
    if len(live) > 1:
        listed = ", ".join(f"{view.id} ({view.name})" for view in reversed(live))
        raise Conflict(f"'{reference}' names {len(live)} live workers: {listed}; give the id or the full name")
    if unstopped:
        return (live or unstopped)[0]
    newest = session.scalars(named.order_by(Worker.id.desc()).limit(1)).all()
    if not newest:
        raise NotFound(f"no worker is named '{reference}'; `playdeck workers --all` lists them")
    return _views(session, newest)[0]


def request_drain(session: Session, targets: Sequence[WorkerView], by: str) -> list[DrainOutcome]:
    """Ask each worker to take no new runs and to exit once its running runs have ended.

    A gone worker cannot act on it: Conflict, before anything is recorded. Draining a draining or
    stopped worker changes nothing.
    """
    check_user_name(by, "user")
    for target in targets:
        if target.state == WorkerState.GONE:
            raise Conflict(
                f"{target.label} is gone: no heartbeat for {target.heartbeat_age():.0f} s, so nobody would act "
                "on a drain; "
                "the reaper records its runs lost"
            )
    requested = set()
    for target in targets:
        # Conditional: the first request is the one recorded, and a stopped worker stays stopped.
        result = session.execute(
            update(Worker)
            .where(Worker.id == target.id, Worker.state == WorkerState.ACTIVE.value)
            .values(state=WorkerState.DRAINING.value, drain_requested_at=utcnow(), drain_requested_by=by)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            requested.add(target.id)
            audit.record(session, "worker.drain", "worker", target.label, actor=by)
    now_views = get_workers(session, [target.id for target in targets])
    return [DrainOutcome(view, view.id in requested) for view in now_views]
