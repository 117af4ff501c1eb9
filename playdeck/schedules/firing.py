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

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playdeck import audit, duties
from playdeck.auth.permissions import Principal
from playdeck.db import session_scope
from playdeck.errors import PlaydeckError
from playdeck.models import Environment, Project
from playdeck.pipelines import engine
from playdeck.pipelines import service as pipelines
from playdeck.runs import requests
from playdeck.runs.dispatch import dispatch_after_commit
from playdeck.runs.run_request import RunRequest
from playdeck.schedules import clock, service, timing
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
    pipeline_run_id: int | None = None


@dataclass(frozen=True)
class _Plan:
    """A due schedule as the pass read it, and what it will ask for."""

    schedule_id: int
    due_at: dt.datetime
    due: timing.Due
    owner: str
    missed_policy: str
    only_new_commits: bool
    last_commit_sha: str | None
    project_id: int
    # Where it deploys: its environment, or every environment its pipeline's steps reach.
    targets: tuple[service.Target, ...]
    is_git: bool
    request: RunRequest
    # A pipeline's schedule: the pipeline it starts, at the source resolved before the transaction.
    pipeline_id: int | None = None
    source: engine.Source | None = None
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


def _targets(session: Session, schedule: Schedule, environment: str | None, protected: bool) -> tuple:
    if environment is not None:
        return ((environment, protected),)
    # A pipeline's schedule (few): its steps' environments, read with the project's.
    return service.targets(session, schedule)


def _due_plans(settings: Settings, now: dt.datetime) -> list[_Plan]:
    """The due schedules (up to ``BATCH``, earliest first) with their targets, in one query (and one more for
    each pipeline's schedule)."""
    with session_scope() as session:
        rows = session.execute(
            select(Schedule, Environment.name, Environment.protected, Project.name, Project.source_kind)
            .outerjoin(Environment, Environment.id == Schedule.environment_id)
            .join(Project, Project.id == Schedule.project_id)
            .where(Schedule.enabled.is_(True), Schedule.next_fire_at <= now)
            .order_by(Schedule.next_fire_at)
            .limit(BATCH)
        ).all()
        return [
            _Plan(
                schedule_id=schedule.id,
                due_at=schedule.next_fire_at,
                due=timing.due(schedule, schedule.next_fire_at, now, settings.schedule_missed_after_seconds),
                owner=schedule.owner,
                missed_policy=schedule.missed_policy,
                only_new_commits=schedule.only_new_commits,
                last_commit_sha=schedule.last_commit_sha,
                project_id=schedule.project_id,
                targets=_targets(session, schedule, environment, protected),
                is_git=source_kind == "git",
                request=service.run_request(schedule, project, environment or ""),
                pipeline_id=schedule.pipeline_id,
            )
            for schedule, environment, protected, project, source_kind in rows
        ]


def _resolved(plan: _Plan) -> _Plan:
    """A git project's ref resolved to its commit, outside any transaction (it may fetch the mirror, which takes
    seconds); a ref that does not resolve is that fire's refusal."""
    try:
        if plan.pipeline_id is not None:
            source = engine.resolve_source(plan.request.project, plan.request.ref, plan.request.version)
            return dataclasses.replace(plan, source=source)
        if not plan.is_git:
            return plan
        return dataclasses.replace(plan, request=requests.resolve(plan.request))
    except PlaydeckError as error:
        return dataclasses.replace(plan, refusal=error.message)


class Owners:
    """Each owner's permissions, read once per pass (a pass is one moment): many schedules share an owner."""

    def __init__(self) -> None:
        self._known: dict[str, Principal | str] = {}

    def refusal(self, session: Session, plan: _Plan) -> str:
        """Why the plan's owner may not deploy to its target now ("" if they may)."""
        if plan.owner not in self._known:
            self._known[plan.owner] = service.owner_principal(session, plan.owner)
        principal = self._known[plan.owner]
        if isinstance(principal, str):
            return principal
        return service.targets_refusal(principal, plan.project_id, plan.request.project, plan.targets)


@dataclass
class _Decision:
    outcome: str = "run"
    reason: str = ""
    run_id: int | None = None
    pipeline_run_id: int | None = None


def _decide(session: Session, plan: _Plan, owners: Owners, decision: _Decision) -> None:
    """The fire's outcome (and its run, requested in a savepoint), in the firing transaction."""
    refusal = owners.refusal(session, plan)
    if refusal:
        session.execute(
            update(Schedule)
            .where(Schedule.id == plan.schedule_id)
            .values(enabled=False, paused_reason=f"paused itself: {refusal}")
        )
        decision.outcome, decision.reason = "paused", refusal
        return
    if plan.due.late and plan.missed_policy == "skip":
        decision.outcome, decision.reason = "skipped", f"{decision.reason}: skipped (missed policy: skip)"
        return
    if plan.refusal:
        decision.outcome, decision.reason = "refused", plan.refusal
        return
    commit_sha = plan.source.commit_sha if plan.source is not None else plan.request.commit_sha
    if plan.only_new_commits and commit_sha == plan.last_commit_sha:
        what = "pipeline run" if plan.source is not None else "deploy"
        decision.outcome = "skipped"
        decision.reason = f"no new commit on {plan.request.ref} since the last scheduled {what} ({commit_sha})"
        return
    if plan.source is not None:
        _start_pipeline(session, plan, decision)
        return
    try:
        # Audited as the owner's request, from this schedule (the address column says where a request came from).
        with session.begin_nested(), audit.acting_as(plan.owner, f"schedule {plan.schedule_id}"):
            run = requests.request_run(session, plan.request)
    except PlaydeckError as error:
        decision.outcome, decision.reason = "refused", error.message
        return
    decision.run_id = run.id
    _remember_commit(session, plan.schedule_id, plan.request.commit_sha)
    dispatch_after_commit(session, run.id, run.queue, run.not_before)


def _remember_commit(session: Session, schedule_id: int, commit_sha: str | None) -> None:
    """The commit this fire asked for: ``only_new_commits`` compares the next fire's with it."""
    if commit_sha is not None:
        session.execute(update(Schedule).where(Schedule.id == schedule_id).values(last_commit_sha=commit_sha))


def _start_pipeline(session: Session, plan: _Plan, decision: _Decision) -> None:
    """The pipeline run, started as the owner in a savepoint (as the API's start does); a refusal is recorded."""
    assert plan.source is not None and plan.pipeline_id is not None
    try:
        with session.begin_nested(), audit.acting_as(plan.owner, f"schedule {plan.schedule_id}"):
            pipeline = pipelines.get(session, plan.pipeline_id)
            decision.pipeline_run_id = engine.start(session, pipeline, plan.source, plan.owner).id
    except PlaydeckError as error:
        decision.outcome, decision.reason, decision.pipeline_run_id = "refused", error.message, None
        return
    _remember_commit(session, plan.schedule_id, plan.source.commit_sha)


def _record(session: Session, plan: _Plan, decision: _Decision, now: dt.datetime) -> None:
    """The fire row: unique per (schedule, fire time), so a second one for the same time fails the commit of
    the transaction it is in, run and all."""
    session.add(
        ScheduleFire(
            schedule_id=plan.schedule_id,
            fire_time=plan.due.fire_time,
            fired_at=now,
            outcome=decision.outcome,
            run_id=decision.run_id,
            pipeline_run_id=decision.pipeline_run_id,
            reason=decision.reason,
        )
    )
    session.flush()


def _fire(plan: _Plan, owners: Owners, now: dt.datetime) -> Fired | None:
    """The firing transaction; None if another scheduler fired (or the schedule changed) first."""
    try:
        with session_scope() as session:
            # First: the row lock orders racing passes, and a loser stops here before requesting anything.
            claimed = session.execute(
                update(Schedule)
                .where(Schedule.id == plan.schedule_id, Schedule.enabled.is_(True))
                .where(Schedule.next_fire_at == plan.due_at)
                .values(next_fire_at=plan.due.next_fire_at, updated_at=now)
            )
            if claimed.rowcount != 1:
                return None
            decision = _Decision(reason=_late_text(plan.due, plan.due_at, now))
            _decide(session, plan, owners, decision)
            _record(session, plan, decision, now)
    except IntegrityError:
        log.info("schedule %s at %s was fired by another scheduler", plan.schedule_id, plan.due.fire_time)
        return None
    return Fired(plan.schedule_id, plan.due.fire_time, decision.outcome, decision.run_id, decision.reason,
                 decision.pipeline_run_id)  # fmt: skip


def fire_due(settings: Settings, now: dt.datetime | None = None) -> list[Fired]:
    """One pass: every enabled schedule whose time has come (up to ``BATCH``), fired once; what was decided."""
    now = now or clock.now(settings)
    owners = Owners()
    fired = []
    for plan in _due_plans(settings, now):
        outcome = _fire(_resolved(plan), owners, now)
        if outcome is not None:
            fired.append(outcome)
    return fired


SCHEDULES = duties.register("schedules", fire_due, every=lambda settings: settings.schedule_interval_seconds)
