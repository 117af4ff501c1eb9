"""An environment that requires success elsewhere first: "production accepts only what succeeded in staging".

``Environment.requires_success_in`` names another environment of the same project. A deploy there is
recorded only if what it deploys — a git project's commit, a directory project's version — has a successful
real deploy (not a dry run) in the named environment. ``require_prior_success`` is one of the admission rules
(``playdeck.release_control.admission``), so it holds for every way a deploy is asked for: API, form, CLI,
relaunch, promotion, push hook.

What passes without it, and why:
- a check-mode run: a dry run changes no host, and previewing production is what one does before promoting;
- a commit that has already succeeded in this very environment: redeploying it (a rollback, a relaunch of
  what runs there now) brings nothing new here. A rollback always goes back to such a commit, so rolling
  production back is never blocked by what staging has seen since.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from playdeck.commit_label import short_sha
from playdeck.errors import Conflict, ValidationError
from playdeck.models import Environment, Project, Run
from playdeck.runs.conditions import is_real_deploy, is_successful
from playdeck.runs.run_request import RunRequest

FIELD = "requires_success_in"


def check_requirement(project: Project, environment: Environment, name: str | None) -> str | None:
    """``name`` as the setting of ``environment`` stores it: None (no rule), or another environment of the
    project that does not, through its own requirement, require this one (a loop would admit nothing)."""
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise ValidationError(FIELD, "must be the name of another environment of the project, or null")
    known = {env.name: env for env in project.environments}
    if name == environment.name:
        raise ValidationError(FIELD, f"{environment.name} cannot require success in itself")
    if name not in known:
        names = ", ".join(sorted(set(known) - {environment.name})) or "none"
        raise ValidationError(FIELD, f"project '{project.name}' has no environment '{name}' (others: {names})")
    chain, step = [environment.name, name], known[name]
    while step.requires_success_in in known and step.requires_success_in not in chain[1:]:
        chain.append(step.requires_success_in)
        if step.requires_success_in == environment.name:
            raise ValidationError(FIELD, f"{' -> '.join(chain)}: a loop of requirements would admit nothing")
        step = known[step.requires_success_in]
    return name


def describe_request(project: Project, request: RunRequest) -> str:
    """What the request deploys, as the refusal names it: a commit (and its ref) or a version."""
    if project.is_git:
        ref = f" ({request.ref})" if request.ref else ""
        return f"commit {short_sha(request.commit_sha)}{ref}"
    return f"version {request.version}" if request.version else "the default version"


def succeeded_in(session: Session, project: Project, environment_id: int, request: RunRequest) -> bool:
    """Whether what ``request`` deploys has a successful real deploy in the environment ``environment_id``."""
    same = Run.commit_sha == request.commit_sha if project.is_git else Run.version == request.version
    query = select(exists().where(Run.environment_id == environment_id, is_successful(), is_real_deploy(), same))
    return bool(session.scalar(query))


def require_prior_success(session: Session, request: RunRequest, project: Project, environment: Environment) -> None:
    """The admission rule: refuse (409) a deploy to an environment that requires success elsewhere, of what
    has not succeeded there."""
    required = environment.requires_success_in
    if required is None or request.check:
        return
    source = next((env for env in project.environments if env.name == required), None)
    if source is None:
        raise Conflict(
            f"{environment.name} requires success in {required} first, and project '{project.name}' has no "
            f"environment '{required}' any more: an admin must change {environment.name}'s {FIELD}"
        )
    if succeeded_in(session, project, source.id, request) or succeeded_in(session, project, environment.id, request):
        return
    raise Conflict(
        f"{environment.name} accepts only what succeeded in {required} first: "
        f"{describe_request(project, request)} has no successful deploy in {required}"
    )
