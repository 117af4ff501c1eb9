"""Registering, editing, archiving and describing projects: the service behind ``POST /api/v1/projects``,
``GET/PATCH/DELETE /api/v1/projects/<name>``, the admin pages and ``playdeck project add|edit|archive|show``.

Who may: admins register and archive; release managers edit the projects granted to them, but not the paths of
a directory project (those name files on the server) and not file:// URLs (they read the server's disk).
Built-in projects (dns) are Playdeck's own and are changed by nobody here. In the caller's transaction;
every change is audited (never a secret, never an inventory's text: a digest of it).

Checks that need the project as it will be (a git project has a URL and a branch, every environment an
inventory, the push-hook mapping names existing environments, the git credential suits the URL) run on the
project after the changes are applied, before anything is flushed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playdeck import audit, secrets
from playdeck.auth import permissions
from playdeck.auth.permissions import Action, Principal, Role
from playdeck.errors import Conflict, Forbidden, ValidationError
from playdeck.git.urls import transport as git_transport
from playdeck.models import Environment, Project, Run, utcnow
from playdeck.projects import DIRECTORY, GIT, get_project, is_built_in, validation
from playdeck.projects.changes import ProjectChanges
from playdeck.secrets import GIT_PASSWORD, GIT_SSH_KEY, VAULT_PASSWORD, WEBHOOK_SECRET
from playdeck.serializers import project_json
from playdeck.settings import get_settings

# Setting one git credential replaces the other: a project fetches with one.
OTHER_GIT_CREDENTIAL = {GIT_SSH_KEY: GIT_PASSWORD, GIT_PASSWORD: GIT_SSH_KEY}
AUDITED_COLUMNS = ("description", "source_kind", "git_url", "git_branch", "git_username", "git_cache_seconds",
                   "git_submodules", "branch_environments_json", "branch_pipelines_json", "vault_id", "playbook",
                   "run_timeout_seconds", "idle_timeout_seconds", "lock_deploys", "supersede_queued", "retry_lost_runs",
                   "allow_free_extra_vars")  # fmt: skip


def create_project(session: Session, principal: Principal, changes: ProjectChanges) -> Project:
    """Register a project (admins). ``changes`` must name it, its playbook and at least one environment."""
    permissions.require(principal, Action.ADMIN)
    name = changes.fields.get("name")
    if name is None:
        raise ValidationError("name", "is required")
    if is_built_in(name):
        raise ValidationError("name", f"'{name}' is the name of a project built into Playdeck")
    if session.scalar(select(Project.id).where(Project.name == name)) is not None:
        raise Conflict(f"project '{name}' already exists")
    if "playbook" not in changes.fields:
        raise ValidationError("playbook", "is required")
    project = Project(name=name, source_kind=changes.fields.get("source_kind", DIRECTORY), description="", git_url=None,
                      git_branch=None, git_known_hosts="", vault_id="")  # fmt: skip
    session.add(project)
    _apply(session, project, changes)
    _check(project, changes, creating=True)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"project '{name}' already exists") from None
    _check_credentials(project, _git_credentials_after(session, project, changes))
    _apply_secrets(session, project, changes, principal.name)
    audit.record(
        session, "project.create", "project", name, {**_state(project), "secrets": sorted(changes.secrets)},
        actor=principal.name,
    )  # fmt: skip
    return project


def update_project(session: Session, principal: Principal, name: str, changes: ProjectChanges) -> Project:
    """Change what ``changes`` names (PATCH semantics); admins, or a release manager granted the project."""
    project = _editable(session, principal, name)
    if changes.fields.get("name", name) != name:
        raise ValidationError("name", "a project cannot be renamed")
    _require_admin_for_server_paths(principal, project, changes)
    before = _state(project)
    _apply(session, project, changes)
    _check(project, changes, creating=False)
    session.flush()
    _check_credentials(project, _git_credentials_after(session, project, changes))
    _apply_secrets(session, project, changes, principal.name)
    after = _state(project)
    changed = sorted(key for key in after if before.get(key) != after[key])
    details = {
        "before": {key: before.get(key) for key in changed},
        "after": {key: after[key] for key in changed},
        "secrets": {kind: "deleted" if value is None else "set" for kind, value in changes.secrets.items()},
    }
    audit.record(session, "project.update", "project", name, details, actor=principal.name)
    return project


def archive_project(session: Session, principal: Principal, name: str) -> Project:
    """Archive (admins): the project and its runs stay, it is hidden from lists and never deployed again.
    Archiving an archived project changes nothing. Runs already queued still run."""
    permissions.require(principal, Action.ADMIN)
    project = get_project(session, name)
    if is_built_in(project.name):
        raise Forbidden(f"project '{name}' is built into Playdeck: it cannot be archived")
    if project.archived_at is None:
        project.archived_at = utcnow()
        audit.record(session, "project.archive", "project", name, {}, actor=principal.name)
    return project


def describe(session: Session, project: Project) -> dict[str, Any]:
    """``project_json`` with which credentials are set (never their values), the inline inventories, the
    environments' variables and known hosts, and the git server's known hosts."""
    data = project_json(project)
    kinds = secrets.set_kinds(session, project.id)
    git = "ssh_key" if GIT_SSH_KEY in kinds else "password" if GIT_PASSWORD in kinds else None
    data["built_in"] = is_built_in(project.name)
    data["git_known_hosts"] = project.git_known_hosts
    data["credentials"] = {
        "git": git,
        "webhook_secret": WEBHOOK_SECRET in kinds,
        "vault_password": VAULT_PASSWORD in kinds,
    }
    for shown, environment in zip(data["environments"], project.environments, strict=True):
        shown.update(
            inline_inventory=environment.inline_inventory,
            variables_yaml=environment.variables_yaml,
            known_hosts=environment.known_hosts,
        )
    return data


def _editable(session: Session, principal: Principal, name: str) -> Project:
    project = get_project(session, name)
    if is_built_in(project.name):
        raise Forbidden(f"project '{name}' is built into Playdeck: it cannot be edited")
    permissions.require_project_editor(principal, project.id, project.name)
    if project.archived_at is not None:
        raise Conflict(f"project '{name}' is archived: it cannot be edited")
    return project


def _require_admin_for_server_paths(principal: Principal, project: Project, changes: ProjectChanges) -> None:
    """A directory project's paths name files on the server (another project's playbook, the DNS one): admins'."""
    if principal.at_least(Role.ADMIN):
        return
    directory = DIRECTORY in (project.source_kind, changes.fields.get("source_kind"))
    paths = (
        changes.touches("source_kind")
        or changes.touches("playbook")
        or any(change is not None and change.get("inventory") for change in changes.environments.values())
    )
    if directory and paths:
        raise Forbidden("only admins change the source or the paths of a directory project (they name server files)")
    if (changes.fields.get("git_url") or "").lower().startswith("file:"):
        raise Forbidden("only admins give a file:// URL (it reads the server's disk)")


def _apply(session: Session, project: Project, changes: ProjectChanges) -> None:
    fields = {key: value for key, value in changes.fields.items() if key != "name"}
    if fields.get("source_kind") == DIRECTORY:
        # Back to the server's dirs: the git settings go, unless given in the same breath (then refused).
        fields.setdefault("git_url", None)
        fields.setdefault("git_branch", None)
    for key, value in fields.items():
        setattr(project, key, value)
    for environment_name, change in changes.environments.items():
        _apply_environment(session, project, environment_name, change)
    # In the order a fresh load gives (Project.environments is ordered by name).
    project.environments.sort(key=lambda environment: environment.name)


def _apply_environment(session: Session, project: Project, name: str, change: dict[str, Any] | None) -> None:
    where = f"environments.{name}"
    existing = next((environment for environment in project.environments if environment.name == name), None)
    if change is None:
        if existing is None:
            raise ValidationError(where, f"project '{project.name}' has no environment '{name}' to remove")
        if existing.id is not None and session.scalar(select(Run.id).where(Run.environment_id == existing.id).limit(1)):
            raise Conflict(f"environment '{name}' has runs, which keep it: archive the project instead")
        project.environments.remove(existing)
        return
    if existing is None:
        if "inventory" not in change:
            raise ValidationError(where, "a new environment needs an inventory path or an inline inventory")
        existing = Environment(name=name, inventory="", protected=False, known_hosts="", variables_yaml="")
        project.environments.append(existing)
    for key, value in change.items():
        setattr(existing, key, value)


def _check(project: Project, changes: ProjectChanges, creating: bool) -> None:
    if not project.environments:
        raise ValidationError("environments", "a project needs at least one environment")
    if project.source_kind == GIT:
        if not project.git_url:
            raise ValidationError("git_url", "is required for a git project")
        if not project.git_branch:
            raise ValidationError("git_branch", "is required for a git project (what a deploy naming no ref takes)")
    else:
        if project.git_url or project.git_branch:
            field = "git_url" if project.git_url else "git_branch"
            raise ValidationError(field, "only a git project has one: set source_kind to git")
        _check_server_paths(project, changes, creating)
    names = sorted(environment.name for environment in project.environments)
    for branch, environment in project.branch_environments.items():
        if environment not in names:
            known = ", ".join(names)
            raise ValidationError(f"branch_environments.{branch}", f"no environment '{environment}' (known: {known})")


def _check_server_paths(project: Project, changes: ProjectChanges, creating: bool) -> None:
    """A directory project's playbook and inventories exist under the server's dirs (symlinks inside too);
    checked for what this change sets, so a file removed since does not block an unrelated edit."""
    settings = get_settings()
    switched = creating or changes.touches("source_kind")
    if switched or changes.touches("playbook"):
        validation.check_inside(settings.playbook_dir, project.playbook, "playbook", want_file=True)
    for environment in project.environments:
        change = changes.environments.get(environment.name) or {}
        if environment.inline_inventory is None and (switched or change.get("inventory")):
            where = f"environments.{environment.name}.inventory"
            validation.check_inside(settings.inventory_dir, environment.inventory, where, want_file=False)


def _apply_secrets(session: Session, project: Project, changes: ProjectChanges, who: str) -> None:
    for kind, value in changes.secrets.items():
        if value is None:
            _delete_if_set(session, project, kind, who)
            continue
        with validation.field_prefix(kind):
            secrets.set_secret(session, project.name, None, kind, value, who=who)
        other = OTHER_GIT_CREDENTIAL.get(kind)
        if other is not None and other not in changes.secrets:
            _delete_if_set(session, project, other, who)


def _delete_if_set(session: Session, project: Project, kind: str, who: str) -> None:
    if kind in secrets.set_kinds(session, project.id):
        secrets.delete_secret(session, project.name, None, kind, who=who)


def _git_credentials_after(session: Session, project: Project, changes: ProjectChanges) -> set[str]:
    """The git credential kinds the project will have once ``changes`` are written. Checked before any is
    written: on SQLite a secret's first write (a savepoint, see ``secrets.set_secret``) can commit at once."""
    kinds = set(secrets.set_kinds(session, project.id))
    for kind, value in changes.secrets.items():
        if value is None:
            kinds.discard(kind)
            continue
        kinds.add(kind)
        other = OTHER_GIT_CREDENTIAL.get(kind)
        if other is not None and other not in changes.secrets:
            kinds.discard(other)
    return kinds & set(OTHER_GIT_CREDENTIAL)


def _check_credentials(project: Project, kinds: set[str]) -> None:
    """The git credential suits the URL: a key for ssh, a password or token for https."""
    if not kinds:
        return
    kind = sorted(kinds)[0]
    if project.source_kind != GIT:
        raise ValidationError(kind, "only a git project has a git credential")
    transport = git_transport(project.git_url or "")
    if kind == GIT_SSH_KEY and transport != "ssh":
        raise ValidationError(kind, "an SSH key is for ssh:// and user@host:path URLs; this one is not")
    if kind == GIT_PASSWORD and transport != "https":
        raise ValidationError(kind, "a password or token is for https:// URLs; this one is not")


def _digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()[:12]


def _state(project: Project) -> dict[str, Any]:
    """What the audit log compares: the columns, and per environment its settings with texts as digests."""
    state: dict[str, Any] = {column: getattr(project, column) for column in AUDITED_COLUMNS}
    state["git_known_hosts"] = _digest(project.git_known_hosts)
    for environment in project.environments:
        state[f"environments.{environment.name}"] = {
            "inventory": environment.inventory,
            "inline_inventory": _digest(environment.inline_inventory),
            "variables_yaml": _digest(environment.variables_yaml),
            "protected": environment.protected,
            "queue": environment.queue,
            "known_hosts": _digest(environment.known_hosts),
        }
    return state
