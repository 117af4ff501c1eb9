"""Deploy on push: a git server's push hook, verified with the project's webhook secret, refreshes the project's
mirror and, where the project maps the pushed branch to an environment (``main → staging``), queues a deploy
of the pushed commit; where it maps the branch to a pipeline (``branch_pipelines``), starts that pipeline at the
pushed commit (which then takes precedence over a deploy of the same branch).

The deploy is requested as the hook user (``settings.git_hook_user``, "git-hook" by default): a real account, so
it passes the same checks as a person's deploy (a developer granted the project deploys to unprotected
environments only, a protected one needs a release manager) and the same locks (``request_run``).

A request whose signature is missing or wrong, for a project that has no secret or does not exist, gets the
same 401 (nothing tells a caller which), is audited with the real reason, and does nothing else. The fetch runs
with no session open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck import audit, secrets
from playdeck.auth import permissions, users
from playdeck.auth.permissions import Principal
from playdeck.commit_label import short_sha
from playdeck.db import session_scope
from playdeck.errors import Forbidden, NotFound, Unauthenticated
from playdeck.git import Mirror
from playdeck.models import Project
from playdeck.pipelines import engine
from playdeck.pipelines import service as pipeline_service
from playdeck.projects.git_source import GitSource
from playdeck.releases import push_payloads
from playdeck.runs.requests import RunRequest, resolve, submit_run
from playdeck.settings import get_settings

REFUSED = "the push hook's signature is missing or does not match the project's webhook secret"
AUDIT_TARGET = "project"


@dataclass(frozen=True)
class HookAnswer:
    status: int
    message: str
    run_id: int | None = None
    environment: str | None = None
    pipeline_run_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        answer = {"message": self.message, "run": self.run_id, "environment": self.environment}
        return answer | ({"pipeline_run": self.pipeline_run_id} if self.pipeline_run_id is not None else {})


@dataclass(frozen=True)
class _Project:
    """What the hook needs of the project, read in one short session."""

    id: int
    secret: str | None
    mirror: Mirror | None
    branch_environments: dict[str, str]
    branch_pipelines: dict[str, str]
    protected: frozenset[str]


def _read_project(session: Session, name: str) -> _Project | None:
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None or project.archived_at is not None:
        return None
    return _Project(
        id=project.id,
        secret=secrets.project_secret(session, project.id, secrets.WEBHOOK_SECRET),
        mirror=GitSource.read(session, project).mirror() if project.is_git else None,
        branch_environments=project.branch_environments,
        branch_pipelines=project.branch_pipelines,
        protected=frozenset(env.name for env in project.environments if env.protected),
    )


def _refuse(name: str, reason: str, service: str | None) -> Unauthenticated:
    """Audit why (in its own transaction: the refusal itself changes nothing) and give the one answer."""
    with session_scope() as session:
        audit.record(session, "git_hook.refused", AUDIT_TARGET, name, {"reason": reason, "service": service})
    return Unauthenticated(REFUSED)


def _verified(name: str, headers: Mapping[str, str], body: bytes) -> tuple[_Project, push_payloads.Signed]:
    with session_scope() as session:
        found = _read_project(session, name)
    signed = push_payloads.signed_by(headers)
    if found is None:
        raise _refuse(name, "no such project (or archived)", signed.service if signed else None)
    if not found.secret:
        raise _refuse(name, "the project has no webhook secret", signed.service if signed else None)
    if signed is None:
        raise _refuse(name, "no signature header", None)
    if not push_payloads.verify(signed, found.secret, body):
        raise _refuse(name, "wrong signature", signed.service)
    return found, signed


def hook_principal(session: Session) -> Principal:
    """The hook user, as a principal; Forbidden naming what to do when there is none."""
    name = get_settings().git_hook_user
    try:
        user = users.get_user(session, name)
    except NotFound:
        raise Forbidden(
            f"deploys on push are requested as user '{name}', which does not exist: create it "
            f"(playdeck user add {name} --role developer --no-password) and grant it the project"
        ) from None
    if not user.active:
        raise Forbidden(f"deploys on push are requested as user '{name}', which is inactive")
    return users.principal(user)


def _queue(name: str, project: _Project, mirror: Mirror, environment: str, push: push_payloads.Push) -> int:
    """The deploy of the pushed commit (checked to be on a branch of the refreshed mirror), as the hook user."""
    with session_scope() as session:
        principal = hook_principal(session)
    permissions.require_deploy(principal, project.id, name, environment, environment in project.protected)
    # On a branch of the refreshed mirror (a push that was force-pushed over already is refused), with its subject.
    commit = mirror.resolve(push.after)
    request = RunRequest(
        project=name,
        environment=environment,
        requested_by=principal.name,
        ref=push.branch,
        commit_sha=commit.sha,
        commit_subject=commit.subject,
    )
    with audit.acting_as(principal.name, audit.current_actor().address):
        request = resolve(request)  # names its commit: checked, nothing fetched
        with session_scope() as session:
            # Sent to the workers once this commits.
            return submit_run(session, request).id


def _start_pipeline(name: str, project: _Project, mirror: Mirror, pipeline: str, push: push_payloads.Push) -> int:
    """The pipeline started at the pushed commit (on a branch of the refreshed mirror), as the hook user, who
    must be allowed to deploy to every environment its steps reach."""
    with session_scope() as session:
        principal = hook_principal(session)
        steps = pipeline_service.by_name(session, name, pipeline).steps
    for environment in pipeline_service.targets(steps):
        permissions.require_deploy(principal, project.id, name, environment, environment in project.protected)
    commit = mirror.resolve(push.after)
    source = engine.Source(ref=push.branch or "", commit_sha=commit.sha, commit_subject=commit.subject)
    with audit.acting_as(principal.name, audit.current_actor().address), session_scope() as session:
        return engine.start(session, pipeline_service.by_name(session, name, pipeline), source, principal.name).id


def handle_push(name: str, headers: Mapping[str, str], body: bytes) -> HookAnswer:
    """Verify, then act on one push hook request of project ``name``. Unauthenticated (401) for a bad signature,
    ValidationError (400) for a payload that is not a push, Forbidden (403) when the hook user may not deploy."""
    project, signed = _verified(name, headers, body)
    if not push_payloads.is_push(signed):
        return HookAnswer(200, f"'{signed.event or 'unnamed'}' event received; only pushes deploy")
    push = push_payloads.parse_push(body)
    if project.mirror is None:
        return HookAnswer(200, f"project '{name}' deploys from a directory on the server: nothing to deploy")
    project.mirror.fetch(0)  # the push changed the repository: the cache time does not apply
    environment = project.branch_environments.get(push.branch or "") if push.deploys else None
    pipeline = project.branch_pipelines.get(push.branch or "") if push.deploys else None
    with session_scope() as session:
        details = {"service": signed.service, "ref": push.ref, "after": push.after, "environment": environment,
                   "pipeline": pipeline}  # fmt: skip
        audit.record(session, "git_hook.push", AUDIT_TARGET, name, details)
    if pipeline is not None:
        started = _start_pipeline(name, project, project.mirror, pipeline, push)
        return HookAnswer(202, f"{push.ref} starts pipeline {pipeline} at {short_sha(push.after)}",
                          pipeline_run_id=started)  # fmt: skip
    if environment is None:
        return HookAnswer(200, f"{push.ref} is mapped to no environment: nothing to deploy")
    run_id = _queue(name, project, project.mirror, environment, push)
    return HookAnswer(202, f"{push.ref} deploys {short_sha(push.after)} to {environment}", run_id, environment)
