"""Pipeline runs: started, advanced step by step, canceled, resumed; each state change a conditional UPDATE.

A step's run is an ordinary run (``playdeck.runs.requests.request_run``) of the commit resolved when the
pipeline run started, linked to it (``Run.pipeline_run_id``, ``pipeline_step``). When that run ends, the reaper's
``pipelines`` duty advances the pipeline: the step's row goes running → succeeded/failed/canceled by one
UPDATE keyed on the step and its run (``WHERE state = 'running' AND run_id = ?``), and only the transaction
whose UPDATE changed the row requests the next step (success or failure edge), in that same transaction; the
new run's message goes out after its commit. Two reapers, or a pass repeated after a crash, advance a step
once.

Why a duty rather than a hook in the run's own terminal transition: the duty sees every way a run ends (its
worker, the reaper's lost runs, a forced cancel, a rejection or an expiry of an approval, the bulk expiry that
bypasses ``transitions.transition``) through one query; a next step that is refused (a freeze window, a lock,
a project archived meanwhile) fails the pipeline without rolling back the run's own end; and the run state
machine does not import the pipelines (no import cycle). The cost: a step starts up to
``pipeline_interval_seconds`` after the previous one ended.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from playdeck import audit, duties, projects, webhooks
from playdeck.db import session_scope
from playdeck.errors import Conflict, Forbidden, NotFound, ValidationError
from playdeck.models import Project, Run, utcnow
from playdeck.pipelines import service as pipelines
from playdeck.pipelines.models import Pipeline, PipelineRun, PipelineStepRun
from playdeck.release_control.promotion import promotion_request
from playdeck.runs import source_refs
from playdeck.runs.dispatch import dispatch_after_commit
from playdeck.runs.requests import request_run
from playdeck.runs.run_request import RunRequest
from playdeck.runs.states import (
    STEP_ACTIVE,
    TERMINAL_STATES,
    PipelineState,
    RunState,
    StepState,
    pipeline_sources_of,
    step_sources_of,
)
from playdeck.runs.transitions import request_cancel
from playdeck.schedules.service import owner_refusal
from playdeck.settings import Settings

log = logging.getLogger(__name__)

# What ends a step without failing the platform: the run service's refusals, recorded on the step.
REFUSALS = (ValidationError, Conflict, Forbidden, NotFound)
BATCH = 200
OUTCOME_OF_RUN = {RunState.SUCCESSFUL.value: StepState.SUCCEEDED, RunState.CANCELED.value: StepState.CANCELED}


@dataclasses.dataclass(frozen=True)
class Source:
    """What every step deploys, settled before the pipeline run is recorded (``runs.requests.resolve``)."""

    ref: str = ""
    commit_sha: str | None = None
    commit_subject: str = ""
    version: str = ""


def resolve_source(project: str, ref: object, version: object) -> Source:
    """Before the caller's transaction: ``ref`` (a git project's; "" its branch) resolved to its commit, which
    may fetch the project's mirror; ``version`` checked as a run's is. Every step then uses this."""
    pipelines.check_source(ref, version)
    resolved = source_refs.resolved(RunRequest(project=project, environment="", ref=str(ref), version=str(version)))
    return Source(resolved.ref, resolved.commit_sha, resolved.commit_subject, str(version))


def _step_transition(
    session: Session, step_id: int, target: StepState, only_from: Collection[StepState] | None = None,
    where: tuple[Any, ...] = (), **values: Any,
) -> bool:  # fmt: skip
    sources = step_sources_of(target) if only_from is None else step_sources_of(target) & set(only_from)
    result = session.execute(
        update(PipelineStepRun)
        .where(PipelineStepRun.id == step_id, PipelineStepRun.state.in_([s.value for s in sources]), *where)
        .values(state=target.value, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _pipeline_transition(session: Session, pipeline_run_id: int, target: PipelineState, **values: Any) -> bool:
    result = session.execute(
        update(PipelineRun)
        .where(
            PipelineRun.id == pipeline_run_id,
            PipelineRun.state.in_([s.value for s in pipeline_sources_of(target)]),
        )
        .values(state=target.value, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def lock(session: Session, pipeline_run_id: int) -> str | None:
    """The pipeline run's state, its row locked until the caller's commit (MariaDB; SQLite locks the database):
    whatever changes a pipeline run's steps (an advance, a cancel, a decision) takes this lock first, so they
    happen one after the other and each sees what the one before committed."""
    return session.scalar(select(PipelineRun.state).where(PipelineRun.id == pipeline_run_id).with_for_update())


def get_pipeline_run(session: Session, pipeline_run_id: int) -> PipelineRun:
    found = session.get(PipelineRun, pipeline_run_id)
    if found is None:
        raise NotFound(f"pipeline run {pipeline_run_id} not found")
    return found


def _step_row(session: Session, pipeline_run_id: int, step: str) -> PipelineStepRun:
    found = session.execute(
        select(PipelineStepRun).where(PipelineStepRun.pipeline_run_id == pipeline_run_id, PipelineStepRun.step == step)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"pipeline run {pipeline_run_id} has no step '{step}'")
    return found


def _definition(pipeline_run: PipelineRun, step: str) -> dict[str, Any]:
    return next(each for each in pipeline_run.steps if each["name"] == step)


def start(session: Session, pipeline: Pipeline, source: Source, requested_by: str) -> PipelineRun:
    """A new run of ``pipeline`` at ``source`` (resolved by the caller before this transaction); its first step
    is requested now, its message sent after the caller's commit. The caller checked who may start it."""
    project = session.get_one(Project, pipeline.project_id)
    projects.require_deployable(project)
    source_refs.check(RunRequest(project.name, "", ref=source.ref, commit_sha=source.commit_sha), project)
    now = utcnow()
    pipeline_run = PipelineRun(
        pipeline_id=pipeline.id, project_id=pipeline.project_id, state=PipelineState.RUNNING.value,
        steps_json=pipeline.steps_json, ref=source.ref, commit_sha=source.commit_sha,
        commit_subject=source.commit_subject, version=source.version, requested_by=requested_by, reason="",
        resumes=0, created_at=now,
    )  # fmt: skip
    session.add(pipeline_run)
    session.flush()
    for position, step in enumerate(pipeline.steps):
        session.add(
            PipelineStepRun(
                pipeline_run_id=pipeline_run.id, step=step["name"], position=position, kind=step["kind"],
                state=StepState.PENDING.value, attempts=0, reason="",
            )
        )  # fmt: skip
    session.flush()
    audit.record(session, "pipeline.start", "pipeline_run", pipeline_run.id,
                 {"pipeline": pipeline.name, "ref": source.ref, "commit": source.commit_sha,
                  "version": source.version}, actor=requested_by)  # fmt: skip
    _start_step(session, pipeline_run, pipeline.steps[0]["name"])
    return pipeline_run


def _request(session: Session, pipeline_run: PipelineRun, step: dict[str, Any]) -> RunRequest:
    """The step's run request, as the pipeline run's starter with their permissions now (as a schedule's runs
    are its owner's): one who may no longer deploy there, or was deactivated, fails the step (Forbidden)."""
    project = session.get_one(Project, pipeline_run.project_id)
    refusal = owner_refusal(
        session, pipeline_run.requested_by, project, projects.get_environment(project, step["environment"])
    )
    if refusal:
        raise Forbidden(refusal.replace("its owner", "its starter", 1))
    link = {"pipeline_run_id": pipeline_run.id, "pipeline_step": step["name"]}
    if step["kind"] == "promote":
        source_run = _step_row(session, pipeline_run.id, step["from"]).run_id
        if source_run is None:
            raise Conflict(f"step '{step['from']}' has no run to promote")
        promoted = promotion_request(session, source_run, step["environment"],
                                     requested_by=pipeline_run.requested_by, may_deploy=lambda *_: None)  # fmt: skip
        return dataclasses.replace(promoted, **link)
    return RunRequest(
        project=project.name, environment=step["environment"],
        version=pipeline_run.version, ref=pipeline_run.ref, commit_sha=pipeline_run.commit_sha,
        commit_subject=pipeline_run.commit_subject, requested_by=pipeline_run.requested_by,
        playbook=step.get("playbook"), **link,
    )  # fmt: skip


def _start_step(session: Session, pipeline_run: PipelineRun, name: str) -> None:
    """The step claimed (pending, or ended before a resume → running) and its run requested; a refused request
    fails the step, and the pipeline goes on along its failure edge."""
    step = _definition(pipeline_run, name)
    row = _step_row(session, pipeline_run.id, name)
    now = utcnow()
    fresh = {"started_at": now, "finished_at": None, "reason": "", "decided_by": None,
             "attempts": PipelineStepRun.attempts + 1}  # fmt: skip
    if step["kind"] == "approval":
        _step_transition(session, row.id, StepState.AWAITING_APPROVAL, **fresh)
        return
    if not _step_transition(session, row.id, StepState.RUNNING, run_id=None, **fresh):
        return  # another advancer started it
    try:
        with session.begin_nested():
            run = request_run(session, _request(session, pipeline_run, step))
    except REFUSALS as exc:
        _step_transition(session, row.id, StepState.FAILED, {StepState.RUNNING}, finished_at=utcnow(),
                         reason=f"its run was refused: {exc}")  # fmt: skip
        _follow(session, pipeline_run, step, StepState.FAILED)
        return
    session.execute(update(PipelineStepRun).where(PipelineStepRun.id == row.id).values(run_id=run.id))
    if run.state == RunState.QUEUED:
        # Not must_succeed: a broker that refuses it leaves the run queued, and the reaper sends it again.
        dispatch_after_commit(session, run.id, run.queue, run.not_before)


def _follow(session: Session, pipeline_run: PipelineRun, step: dict[str, Any], outcome: StepState) -> None:
    """After a step ended: its success or failure edge, or the pipeline run's end."""
    if outcome == StepState.SUCCEEDED:
        following = step["on_success"]
    else:
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.id == pipeline_run.id, PipelineRun.failed_step.is_(None))
            .values(failed_step=step["name"])
            .execution_options(synchronize_session=False)
        )
        # A canceled step's run was stopped by a person: the pipeline stops there (resumable), no edge.
        following = step["on_failure"] if outcome == StepState.FAILED else None
    if following is not None:
        _start_step(session, pipeline_run, following)
        return
    session.refresh(pipeline_run, ["failed_step"])
    failed = pipeline_run.failed_step
    target = PipelineState.FAILED if failed else PipelineState.SUCCEEDED
    reason = f"step '{failed}' {_step_row(session, pipeline_run.id, failed).state}" if failed else ""
    if _pipeline_transition(session, pipeline_run.id, target, finished_at=utcnow(), reason=reason):
        _skip_pending(session, pipeline_run.id)
        _notify(session, pipeline_run.id, target)


def _notify(session: Session, pipeline_run_id: int, state: PipelineState) -> None:
    """The pipeline run's end, through the webhook outbox in this transaction: about its latest step run (a
    webhook's payload is a run's); none when no step got as far as a run."""
    last_run = session.scalar(select(func.max(Run.id)).where(Run.pipeline_run_id == pipeline_run_id))
    if last_run is not None:
        webhooks.enqueue_event(session, last_run, f"pipeline_{state.value}")


def _skip_pending(session: Session, pipeline_run_id: int) -> None:
    session.execute(
        update(PipelineStepRun)
        .where(PipelineStepRun.pipeline_run_id == pipeline_run_id, PipelineStepRun.state == StepState.PENDING.value)
        .values(state=StepState.SKIPPED.value)
        .execution_options(synchronize_session=False)
    )


def advance(session: Session, step_id: int) -> bool:
    """If the step's run has ended: the step ended accordingly and the next step requested (or the pipeline run
    ended), in the caller's transaction. False when there was nothing to do or another advancer did it."""
    row = session.execute(
        select(PipelineStepRun.pipeline_run_id, PipelineStepRun.step, PipelineStepRun.run_id, Run.state, Run.reason)
        .join(Run, Run.id == PipelineStepRun.run_id)
        .where(PipelineStepRun.id == step_id)
    ).one_or_none()
    if row is None or row.state not in {state.value for state in TERMINAL_STATES}:
        return False
    pipeline_state = lock(session, row.pipeline_run_id)
    outcome = OUTCOME_OF_RUN.get(row.state, StepState.FAILED)
    reason = "" if outcome == StepState.SUCCEEDED else f"run {row.run_id} {row.state}: {row.reason}".rstrip(": ")
    won = _step_transition(
        session, step_id, outcome, {StepState.RUNNING}, where=(PipelineStepRun.run_id == row.run_id,),
        finished_at=utcnow(), reason=reason,
    )  # fmt: skip
    if not won:
        return False
    if pipeline_state == PipelineState.RUNNING:
        pipeline_run = get_pipeline_run(session, row.pipeline_run_id)
        _follow(session, pipeline_run, _definition(pipeline_run, row.step), outcome)
    return True


def advance_due(settings: Settings, now: object = None) -> list[int]:
    """The reaper's pass: every step whose run has ended, advanced each in its own transaction."""
    with session_scope() as session:
        due = session.scalars(
            select(PipelineStepRun.id)
            .join(Run, Run.id == PipelineStepRun.run_id)
            .where(
                PipelineStepRun.state == StepState.RUNNING.value,
                Run.state.in_([state.value for state in TERMINAL_STATES]),
            )
            .order_by(PipelineStepRun.id)
            .limit(BATCH)
        ).all()
    advanced = []
    for step_id in due:
        try:
            with session_scope() as session:
                if advance(session, step_id):
                    advanced.append(step_id)
        except Exception:  # one broken step must not hold up the others
            log.exception("pipeline step %s could not be advanced; tried again next pass", step_id)
    return advanced


PIPELINES = duties.register("pipelines", advance_due, every=lambda settings: settings.pipeline_interval_seconds)


def cancel(session: Session, pipeline_run_id: int, by: str) -> PipelineRun:
    """The pipeline run ends canceled: its running step's run is canceled, the steps not reached are skipped.
    Conflict for one that already ended."""
    lock(session, pipeline_run_id)
    pipeline_run = get_pipeline_run(session, pipeline_run_id)
    now = utcnow()
    if not _pipeline_transition(session, pipeline_run_id, PipelineState.CANCELED, finished_at=now,
                                reason=f"canceled by {by}"):  # fmt: skip
        raise Conflict(f"pipeline run {pipeline_run_id} already ended: it is {pipeline_run.state}")
    active = session.execute(
        select(PipelineStepRun.id, PipelineStepRun.run_id)
        .where(
            PipelineStepRun.pipeline_run_id == pipeline_run_id,
            PipelineStepRun.state.in_([state.value for state in STEP_ACTIVE]),
        )
        .with_for_update()
    ).all()
    for step_id, run_id in active:
        if _step_transition(session, step_id, StepState.CANCELED, STEP_ACTIVE, finished_at=now,
                            reason=f"canceled by {by}") and run_id is not None:  # fmt: skip
            try:
                request_cancel(session, run_id, by)
            except Conflict:
                pass  # its run ended meanwhile
    _skip_pending(session, pipeline_run_id)
    _notify(session, pipeline_run_id, PipelineState.CANCELED)
    audit.record(session, "pipeline.cancel", "pipeline_run", pipeline_run_id, {}, actor=by)
    session.refresh(pipeline_run)
    return pipeline_run


def resume(session: Session, pipeline_run_id: int, from_step: str | None, by: str) -> PipelineRun:
    """A failed pipeline run goes on from its failed step (or ``from_step``, a later one) with the same commit;
    the steps done stay done. Conflict unless it failed (a running one, a canceled or succeeded one)."""
    pipeline_run = get_pipeline_run(session, pipeline_run_id)
    if pipeline_run.state != PipelineState.FAILED:
        raise Conflict(f"pipeline run {pipeline_run_id} is {pipeline_run.state}: only a failed pipeline run is resumed")
    names = [step["name"] for step in pipeline_run.steps]
    failed = pipeline_run.failed_step or names[0]
    chosen = failed if from_step is None else from_step
    if chosen not in names or names.index(chosen) < names.index(failed):
        later = ", ".join(names[names.index(failed) :])
        raise ValidationError("from", f"must be the failed step or a later one ({later}), not '{chosen}'")
    if not _pipeline_transition(session, pipeline_run_id, PipelineState.RUNNING, failed_step=None, reason="",
                                finished_at=None, resumes=PipelineRun.resumes + 1):  # fmt: skip
        raise Conflict(f"pipeline run {pipeline_run_id} was resumed by someone else meanwhile")
    audit.record(session, "pipeline.resume", "pipeline_run", pipeline_run_id, {"from": chosen}, actor=by)
    session.refresh(pipeline_run)
    _start_step(session, pipeline_run, chosen)
    return pipeline_run


def decide(session: Session, pipeline_run_id: int, step: str, by: str, approve: bool) -> PipelineRun:
    """A release manager's decision on an approval step: approved goes on along its success edge, rejected
    along its failure edge. Conflict when the step does not await a decision (any more); Forbidden for the person
    who started the pipeline run (four eyes, as for a run awaiting approval)."""
    lock(session, pipeline_run_id)
    pipeline_run = get_pipeline_run(session, pipeline_run_id)
    if pipeline_run.requested_by == by:
        raise Forbidden(f"{by} started pipeline run {pipeline_run_id}: its starter never decides its approval steps "
                        "(cancel it instead)")  # fmt: skip
    row = _step_row(session, pipeline_run_id, step)
    outcome = StepState.SUCCEEDED if approve else StepState.FAILED
    verb = "approved" if approve else "rejected"
    if not _step_transition(session, row.id, outcome, {StepState.AWAITING_APPROVAL}, finished_at=utcnow(),
                            decided_by=by, reason=f"{verb} by {by}"):  # fmt: skip
        raise Conflict(f"step '{step}' of pipeline run {pipeline_run_id} awaits no decision: it is {row.state}")
    audit.record(session, f"pipeline.{verb}", "pipeline_run", pipeline_run_id, {"step": step}, actor=by)
    _follow(session, pipeline_run, _definition(pipeline_run, step), outcome)
    return pipeline_run
