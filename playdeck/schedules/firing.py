"""The reaper's duty that fires due schedules, each fire time at most once however many schedulers run.

For a due schedule a pass, in one transaction: moves the schedule's ``next_fire_at`` on, conditionally on it
still being the time this pass read (the row lock orders racing passes; a loser updates nothing and stops);
inserts the fire row, unique per (schedule, fire time), which the database refuses a second time whatever
happened to the first guard; and records the decision on that row: the run it requested (as the owner, through
``request_run``: locks, freezes and release rules apply), or why there is none. A pass that dies before its
commit leaves nothing behind, and the next pass fires that time once. The run's message goes out after the
commit; a broker that refuses it leaves the run queued for the reaper's re-dispatch.

A refusal is recorded, never raised: an owner who may no longer deploy there pauses the schedule with the
reason; any other refusal (a freeze, a release rule, an archived project) is that fire's outcome.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playdeck import duties
from playdeck.db import session_scope
from playdeck.errors import PlaydeckError
from playdeck.models import Environment, utcnow
from playdeck.runs import requests
from playdeck.runs.dispatch import dispatch_after_commit
from playdeck.runs.run_request import RunRequest
from playdeck.schedules import service, timing
from playdeck.schedules.models import Schedule, ScheduleFire
from playdeck.settings import Settings

log = logging.getLogger(__name__)

# Bounds one pass's work; what is left is taken on the next pass (a second later by default).
BATCH = 2000


@dataclass(frozen=True)
class Fired:
    schedule_id: int
    fire_time: dt.datetime
    outcome: str  # run | skipped | refused | paused
    run_id: int | None
    reason: str


@dataclass(frozen=True)
class _Plan:
    schedule_id: int
    due_at: dt.datetime
    due: timing.Due
    request: RunRequest | None
    # Why nothing is requested (a ref that does not resolve), found before the transaction.
    refusal: str = ""


def _late_text(due: timing.Due, due_at: dt.datetime, now: dt.datetime) -> str:
    parts = []
    if due.passed_over:
        parts.append(f"{due.passed_over} earlier fire time(s) from {due_at:%Y-%m-%d %H:%M} UTC passed while no "
                     "scheduler ran")  # fmt: skip
    if due.late:
        parts.append(f"this one is {(now - due.fire_time).total_seconds():.0f} s late")
    return "; ".join(parts)


def _plan(settings: Settings, schedule_id: int, now: dt.datetime) -> _Plan | None:
    """What to do about a due schedule, worked out before the firing transaction: a git ref's resolution may
    fetch the project's mirror, which takes seconds."""
    with session_scope() as session:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None or not schedule.enabled or schedule.next_fire_at is None or schedule.next_fire_at > now:
            return None
        due_at = schedule.next_fire_at
        due = timing.due(schedule, due_at, now, settings.schedule_missed_after_seconds)
        environment = session.get(Environment, schedule.environment_id)
        request = service.run_request(schedule, environment.project.name, environment.name)
    try:
        request = requests.resolve(request)
    except PlaydeckError as error:
        return _Plan(schedule_id, due_at, due, None, error.message)
    return _Plan(schedule_id, due_at, due, request)


def _decide(session: Session, schedule: Schedule, plan: _Plan, fire: ScheduleFire) -> None:
    """Fill in the fire row's outcome (and the run), in the firing transaction after its insert."""
    environment = session.get(Environment, schedule.environment_id)
    project = environment.project
    refusal = service.owner_refusal(session, schedule.owner, project, environment)
    if refusal:
        schedule.enabled, schedule.paused_reason = False, f"paused itself: {refusal}"
        fire.outcome, fire.reason = "paused", refusal
        return
    if plan.due.late and schedule.missed_policy == "skip":
        fire.outcome = "skipped"
        fire.reason = f"{fire.reason}: skipped (missed policy: skip)"
        return
    if plan.request is None:
        fire.outcome, fire.reason = "refused", plan.refusal
        return
    if schedule.only_new_commits and plan.request.commit_sha == schedule.last_commit_sha:
        fire.outcome = "skipped"
        last = schedule.last_commit_sha
        fire.reason = f"no new commit on {plan.request.ref} since the last scheduled deploy ({last})"
        return
    try:
        with session.begin_nested():
            run = requests.request_run(session, plan.request)
    except PlaydeckError as error:
        fire.outcome, fire.reason = "refused", error.message
        return
    fire.outcome, fire.run_id = "run", run.id
    schedule.last_commit_sha = plan.request.commit_sha
    dispatch_after_commit(session, run.id, run.queue, run.not_before)


def _fire(plan: _Plan, now: dt.datetime) -> Fired | None:
    """The firing transaction; None if another scheduler fired (or the schedule changed) first."""
    try:
        with session_scope() as session:
            claimed = session.execute(
                update(Schedule)
                .where(Schedule.id == plan.schedule_id, Schedule.enabled.is_(True))
                .where(Schedule.next_fire_at == plan.due_at)
                .values(next_fire_at=plan.due.next_fire_at, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                return None
            fire = ScheduleFire(
                schedule_id=plan.schedule_id,
                fire_time=plan.due.fire_time,
                fired_at=now,
                outcome="run",
                reason=_late_text(plan.due, plan.due_at, now),
            )
            session.add(fire)
            session.flush()
            schedule = session.get(Schedule, plan.schedule_id)
            _decide(session, schedule, plan, fire)
            fired = Fired(plan.schedule_id, fire.fire_time, fire.outcome, fire.run_id, fire.reason)
    except IntegrityError:
        log.info("schedule %s at %s was fired by another scheduler", plan.schedule_id, plan.due.fire_time)
        return None
    return fired


def fire_due(settings: Settings, now: dt.datetime | None = None) -> list[Fired]:
    """One pass: every enabled schedule whose time has come (up to ``BATCH``), fired once; what was decided."""
    now = now or utcnow()
    with session_scope() as session:
        due = session.scalars(
            select(Schedule.id)
            .where(Schedule.enabled.is_(True), Schedule.next_fire_at <= now)
            .order_by(Schedule.next_fire_at)
            .limit(BATCH)
        ).all()
    fired = []
    for schedule_id in due:
        plan = _plan(settings, schedule_id, now)
        outcome = _fire(plan, now) if plan is not None else None
        if outcome is not None:
            fired.append(outcome)
    return fired


SCHEDULES = duties.register("schedules", fire_due, every=lambda settings: settings.schedule_interval_seconds)
