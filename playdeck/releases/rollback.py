"""Roll an environment back: a deploy of the last successful commit before the current one (or of a chosen
run's), with the parameters of the run that deployed it, marked as a rollback of the run it replaces.

"Current" is what is deployed: the environment's last successful real deploy. What it goes back to is the
newest successful real deploy before it that deployed something else: another commit (git projects) or
another version (directory projects). The request is a relaunch of that run (``playdeck.runs.relaunch``: its
version, ref, limit, tags and extra vars, checked against the project as it is now), never in check mode, and
``rollback_of`` the current run. It goes through ``request_run`` like any deploy: the caller checks that the
user may deploy there, and the environment's lock applies.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from playdeck.commit_label import short_sha
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.models import Environment, Project, Run
from playdeck.runs.conditions import is_real_deploy, is_successful
from playdeck.runs.queries import get_run, last_successful_deploy
from playdeck.runs.relaunch import relaunch_request
from playdeck.runs.requests import RunRequest
from playdeck.runs.states import RunState, real_deploy


def describe(run: Run) -> str:
    """What a run deployed, in words: "v1.4 (3f2a9c1d0b7e)", "version 2.0", or "the default version"."""
    if run.commit_sha:
        return f"{run.ref or 'commit'} ({short_sha(run.commit_sha)})"
    return f"version {run.version}" if run.version else "the default version"


def _previous(session: Session, current: Run) -> Run | None:
    """The newest successful real deploy of the environment before ``current`` that deployed something else."""
    return session.scalar(
        select(Run)
        .where(
            Run.environment_id == current.environment_id,
            Run.id < current.id,
            is_successful(),
            is_real_deploy(),
            or_(Run.commit_sha.is_distinct_from(current.commit_sha), Run.version != current.version),
        )
        .order_by(Run.id.desc())
        .limit(1)
    )


def _chosen(session: Session, environment: Environment, current: Run, run_id: object) -> Run:
    if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id < 1:
        raise ValidationError("to_run", "must be the id of a run")
    try:
        chosen = get_run(session, run_id)
    except NotFound:
        raise ValidationError("to_run", f"run {run_id} does not exist") from None
    if chosen.environment_id != environment.id:
        raise ValidationError("to_run", f"run {run_id} did not deploy to {environment.name}")
    if chosen.state != RunState.SUCCESSFUL or not real_deploy(chosen.kind, chosen.check_mode, chosen.playbook):
        raise ValidationError("to_run", f"run {run_id} is not a successful deploy ({chosen.state})")
    if chosen.commit_sha == current.commit_sha and chosen.version == current.version:
        raise Conflict(f"run {run_id} deployed {describe(chosen)}, which is what {environment.name} runs now")
    return chosen


def rollback_target(
    session: Session, project: Project, environment: Environment, to_run: object = None
) -> tuple[Run, Run]:
    """(the run deployed now, the run whose deploy to repeat). Conflict when there is nothing to roll back."""
    current_id = last_successful_deploy(session, environment.id)
    if current_id is None:
        raise Conflict(f"nothing has been deployed to {project.name} {environment.name} yet: nothing to roll back")
    current = get_run(session, current_id)
    if to_run is not None:
        return current, _chosen(session, environment, current, to_run)
    target = _previous(session, current)
    if target is None:
        raise Conflict(
            f"{environment.name} runs {describe(current)} (run {current.id}) and no earlier successful deploy "
            "there deployed anything else: nothing to roll back to"
        )
    return current, target


def rollback_request(
    session: Session, project: Project, environment: Environment, *, requested_by: str, to_run: object = None
) -> RunRequest:
    """The request that rolls ``environment`` back; the caller checks the deploy permission and submits it."""
    current, target = rollback_target(session, project, environment, to_run)
    repeat = relaunch_request(session, target.id, requested_by=requested_by)
    return dataclasses.replace(repeat, relaunch_of=None, rollback_of=current.id, check=False)
