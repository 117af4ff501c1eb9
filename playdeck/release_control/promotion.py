"""Promotion: "promote run 42 to production" — a deploy of a successful run's commit (a directory project's
version) and parameters to another environment of its project, linked to it (``promoted_from``).

The request is a relaunch of the run (``playdeck.runs.relaunch``: the same commit whatever its ref names now,
version, extra vars, limit and tags, checked against the project as it is now) aimed at the other environment,
never in check mode. It goes through ``request_run`` like any deploy, so the target environment's own rules
apply (``requires_success_in``, its lock, supersede). The caller checks that the user may deploy to the target.

Only a real deploy that succeeded can be promoted: not a failed or unfinished run, not a dry (check-mode) run,
not a DNS regeneration. A run given secret inputs cannot be (their values are gone once it ended), as for a
relaunch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from playdeck.db import Executor
from playdeck.errors import Conflict, ValidationError
from playdeck.models import Environment, Project, Run
from playdeck.runs.queries import get_run
from playdeck.runs.relaunch import relaunch_request
from playdeck.runs.run_request import RunRequest
from playdeck.runs.states import RunKind, RunState

FIELD = "to"
# The caller's permission check, given the run's project and the target environment once they are known.
DeployCheck = Callable[[Project, Environment], None]
# A project has a few environments, a run is promoted to a few of them: the run page reads this many rows.
MAX_OPTION_ROWS = 200


def refusal(run_id: int, kind: str, state: str, check_mode: bool) -> str | None:
    """Why the run cannot be promoted, or None if it can (the run page offers the control only then)."""
    if kind != RunKind.DEPLOY:
        return f"run {run_id} is a {kind} run, not a deploy: only deploys are promoted"
    if state != RunState.SUCCESSFUL:
        return f"run {run_id} is {state}: only a successful deploy is promoted"
    if check_mode:
        return f"run {run_id} was a check-mode (dry) run: it deployed nothing to promote"
    return None


def _target(run: Run, to: object) -> Environment:
    if not isinstance(to, str) or not to:
        raise ValidationError(FIELD, "is required: the name of the environment to promote to")
    others = [env for env in run.project.environments if env.id != run.environment_id]
    if to == run.environment.name:
        raise ValidationError(FIELD, f"run {run.id} already deployed to {to}: promote it to another environment")
    for environment in others:
        if environment.name == to:
            return environment
    names = ", ".join(sorted(env.name for env in others)) or "none"
    raise ValidationError(FIELD, f"project '{run.project.name}' has no environment '{to}' (others: {names})")


def promotion_request(
    session: Session, run_id: int, to: object, *, requested_by: str, may_deploy: DeployCheck
) -> RunRequest:
    """The request that promotes run ``run_id`` to environment ``to``; the caller submits it (``submit_run``).

    NotFound for an unknown run; Conflict for one that is not a successful real deploy; ValidationError for
    a target that is not another environment of the run's project; then ``may_deploy(project, target)``
    raises Forbidden for a requester who may not deploy there.
    """
    run = get_run(session, run_id)
    refused = refusal(run.id, run.kind, run.state, run.check_mode)
    if refused:
        raise Conflict(refused)
    target = _target(run, to)
    may_deploy(run.project, target)
    repeat = relaunch_request(session, run.id, requested_by=requested_by)
    return dataclasses.replace(repeat, environment=target.name, relaunch_of=None, promoted_from=run.id, check=False)


@dataclass(frozen=True)
class PromotionOptions:
    """A successful run's promotions (run id, environment; oldest first) and its project's environments
    (name, protected) with the project's id: what the run page shows and offers."""

    project_id: int | None
    environments: list[dict[str, Any]]
    promoted_to: list[dict[str, Any]]


def options(session: Executor, project: str, run_id: int) -> PromotionOptions:
    """In one statement: the project's environments, each with the runs promoted from ``run_id`` to it."""
    rows = session.execute(
        select(Environment.project_id, Environment.name, Environment.protected, Run.id)
        .join(Project, Project.id == Environment.project_id)
        .outerjoin(Run, and_(Run.environment_id == Environment.id, Run.promoted_from_id == run_id))
        .where(Project.name == project)
        .order_by(Environment.name, Run.id)
        .limit(MAX_OPTION_ROWS)
    ).all()
    environments = {name: {"name": name, "protected": protected} for _, name, protected, _ in rows}
    promoted = sorted((promoted_id, name) for _, name, _, promoted_id in rows if promoted_id is not None)
    return PromotionOptions(
        project_id=rows[0].project_id if rows else None,
        environments=list(environments.values()),
        promoted_to=[{"id": promoted_id, "environment": name} for promoted_id, name in promoted],
    )
