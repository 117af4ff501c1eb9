"""Recording a run as ``lost`` — its worker died under it — and the project's automatic-retry policy.

Every path that declares a run lost (the reaper on a stale heartbeat, a worker's sweep on a dead pool
process) goes through here, so each does the same three things: the terminal state (which releases
the deploy lock) and, if the project retries lost runs, a new linked run, in the caller's transaction;
then, after its commit, the messages for the retry and for the next run waiting for the environment.

The lost run stays ``lost``: a retry is a new run (``relaunch_of`` the lost one, ``retry_number`` n),
so the history says truthfully that the first attempt died and a second one was started.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace

from sqlalchemy import update
from sqlalchemy.orm import Session

from playdeck.errors import PlaydeckError
from playdeck.models import Project, Run
from playdeck.pipelines.models import PipelineStepRun
from playdeck.runs import locks
from playdeck.runs.dispatch import dispatch_after_commit
from playdeck.runs.queries import get_run
from playdeck.runs.relaunch import relaunch_request
from playdeck.runs.requests import request_run
from playdeck.runs.states import RunState, StepState
from playdeck.runs.transitions import finish_run
from playdeck.unit_of_work import send_after_commit

log = logging.getLogger(__name__)

# A requester name like any other (validated the same way); the run page says it is an automatic retry.
RETRY_REQUESTER = "playdeck-retry"


@dataclass(frozen=True)
class LostRun:
    run_id: int
    project_id: int
    environment_id: int
    retry: tuple[int, str] | None  # the retry run's (id, queue), if the policy started one


def record_lost(session: Session, run_id: int, reason: str) -> LostRun | None:
    """In the caller's transaction: ``lost`` with ``reason``, plus a retry run if the project allows one.

    None if the run was no longer running (it ended meanwhile; its own state stands).
    """
    if not finish_run(session, run_id, RunState.LOST, reason=reason):
        return None
    # A fresh load: the UPDATE above bypassed any copy already in this session.
    session.expire_all()
    run = get_run(session, run_id)
    retry = None
    allowed = session.get(Project, run.project_id).retry_lost_runs
    if run.retry_number < allowed:
        try:
            # A savepoint: a retry the project now refuses (a secret input is gone, the launch form changed)
            # must not undo the lost state recorded above.
            with session.begin_nested():
                request = relaunch_request(session, run_id, "all", requested_by=RETRY_REQUESTER)
                # The platform's own decision (a DNS run's retry too), with the lost run's already checked values;
                # a pipeline step's retry is that step's run from now on.
                step = {"pipeline_run_id": run.pipeline_run_id, "pipeline_step": run.pipeline_step}
                new = request_run(session, replace(request, platform=True, **step))
                new.retry_number = run.retry_number + 1
                session.flush()
                _step_follows_retry(session, run, new.id)
        except PlaydeckError as exc:
            note = f"; not retried automatically: {exc.message}"
        else:
            note = f"; retried automatically as run {new.id} (retry {new.retry_number} of {allowed})"
            retry = (new.id, new.queue)
        session.execute(update(Run).where(Run.id == run_id).values(reason=Run.reason + note))
    _send_after_commit(session, run, retry)
    return LostRun(run_id, run.project_id, run.environment_id, retry)


def _step_follows_retry(session: Session, lost: Run, retry_id: int) -> None:
    """A pipeline step whose run was lost and retried waits for the retry: it stays running, on the new run (the
    pipeline would otherwise fail on the lost run while its retry deploys). Only while the step still waits for
    the lost run (a canceled pipeline run's step does not)."""
    if lost.pipeline_run_id is None:
        return
    session.execute(
        update(PipelineStepRun)
        .where(
            PipelineStepRun.pipeline_run_id == lost.pipeline_run_id,
            PipelineStepRun.step == lost.pipeline_step,
            PipelineStepRun.run_id == lost.id,
            PipelineStepRun.state == StepState.RUNNING.value,
        )
        .values(run_id=retry_id)
    )


def _send_after_commit(session: Session, run: Run, retry: tuple[int, str] | None) -> None:
    """What a lost run sets free, sent once the caller commits: its retry, then the next run waiting for
    its environment. A failed send is not fatal: the reaper re-sends queued runs."""
    said = f"; retry is run {retry[0]}" if retry else ""
    send_after_commit(session, functools.partial(log.warning, "run %s lost%s", run.id, said))
    if retry is not None:
        dispatch_after_commit(session, *retry)
    locks.dispatch_next_waiting(session, run.project_id, run.environment_id)
