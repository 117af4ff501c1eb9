"""Projects and their environments: lookup, registration of directory projects by the platform's own code
(the sample, the built-in dns project, tests) and the sample project.

What people register and edit (git or directory projects, from the API, the admin pages and the CLI) goes
through ``playdeck.projects.registry``, which checks their input (``validation``, ``inline_inventory``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session, selectinload

from playdeck import audit
from playdeck.db import Executor
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.models import Environment, Project
from playdeck.paths import resolve_inside
from playdeck.projects import validation
from playdeck.settings import get_settings

SAMPLE_PROJECT = "sampleapp"
# Projects Playdeck runs itself. DNS regeneration (playdeck.dns.scheduling) gives its playbook the zone
# directory and the rndc program to run: a person who could deploy it could write anywhere the worker
# may and run any program, so only the platform starts its runs (``RunRequest.platform``).
DNS_PROJECT = "dns"
BUILT_IN_PROJECTS = frozenset({DNS_PROJECT})
# Project.source_kind: the server's playbook and inventory dirs, or a git repository checked out per run.
DIRECTORY = "directory"
GIT = "git"
SOURCE_KINDS = (DIRECTORY, GIT)
# Per-project behaviour a registration may set (see the Project model).
PROJECT_OPTIONS = frozenset(
    {"run_timeout_seconds", "idle_timeout_seconds", "lock_deploys", "supersede_queued", "retry_lost_runs",
     "allow_free_extra_vars"}
)  # fmt: skip
# Automatic retries of a lost run; a few cover a worker restart or crash, more would hide a real fault.
MAX_RETRY_LOST_RUNS = 5
# The columns are 32-bit.
MAX_SECONDS = 2**31 - 1


def is_built_in(name: str) -> bool:
    return name in BUILT_IN_PROJECTS


def list_projects(session: Session, include_archived: bool = False) -> list[Project]:
    """By name; archived projects only with ``include_archived`` (their runs stay listed either way)."""
    query = select(Project).options(selectinload(Project.environments)).order_by(Project.name)
    if not include_archived:
        query = query.where(Project.archived_at.is_(None))
    return list(session.scalars(query))


# Built once, the name a parameter: SQLAlchemy memoizes a statement's cache key on the statement object, and
# building this one on every call was a sixth of the deploy form's CPU (issue 24).
_PROJECT_BY_NAME = select(Project).options(selectinload(Project.environments)).where(Project.name == bindparam("name"))


# Each unarchived project's environments as a few columns (a project without any: one row, environment
# columns None), by project then environment name: what the dashboard lists, without loading entities.
_PROJECT_ENVIRONMENTS = (
    select(
        Project.id.label("project_id"),
        Project.name.label("project"),
        Project.description,
        Environment.id.label("environment_id"),
        Environment.name.label("environment"),
        Environment.protected,
    )
    .outerjoin(Environment, Environment.project_id == Project.id)
    .where(Project.archived_at.is_(None))
    .order_by(Project.name, Environment.name)
)


def project_environments(session: Executor) -> list[Row[Any]]:
    """Rows of ``project_id``, ``project``, ``description``, ``environment_id``, ``environment``,
    ``protected``: every unarchived project's environments, ordered as ``list_projects`` lists them."""
    return list(session.execute(_PROJECT_ENVIRONMENTS))


def get_project(session: Session, name: str) -> Project:
    project = session.scalar(_PROJECT_BY_NAME, {"name": name})
    if project is None:
        raise NotFound(f"project '{name}' does not exist")
    return project


def require_deployable(project: Project) -> None:
    """An archived project keeps its runs but is never deployed again."""
    if project.archived_at is not None:
        raise Conflict(f"project '{project.name}' is archived: it cannot be deployed")


def get_environment(project: Project, name: str) -> Environment:
    for environment in project.environments:
        if environment.name == name:
            return environment
    known = ", ".join(env.name for env in project.environments) or "none"
    raise NotFound(f"project '{project.name}' has no environment '{name}' (known: {known})")


def add_project(
    session: Session,
    name: str,
    playbook: str,
    environments: dict[str, str],
    description: str = "",
    protected: frozenset[str] = frozenset(),
    **options: int | bool,
) -> Project:
    """Register a project whose playbook and inventories exist on disk; ``environments`` maps name → inventory."""
    settings = get_settings()
    if session.scalar(select(Project.id).where(Project.name == name)) is not None:
        raise ValidationError("name", f"project '{name}' already exists")
    if not resolve_inside(settings.playbook_dir, playbook, "playbook").is_file():
        raise ValidationError("playbook", f"'{playbook}' not found in {settings.playbook_dir}")
    unknown = set(options) - PROJECT_OPTIONS
    if unknown:
        raise ValidationError("options", f"unknown project options: {', '.join(sorted(unknown))}")
    project = Project(name=name, playbook=playbook, description=description, **options)
    for env_name, inventory in environments.items():
        if not resolve_inside(settings.inventory_dir, inventory, "inventory").exists():
            raise ValidationError("inventory", f"'{inventory}' not found in {settings.inventory_dir}")
        project.environments.append(Environment(name=env_name, inventory=inventory, protected=env_name in protected))
    session.add(project)
    session.flush()
    return project


def check_options(options: dict[str, int | bool]) -> dict[str, int | bool]:
    """``options`` (names of ``PROJECT_OPTIONS``) if each value is one the project may take."""
    unknown = set(options) - PROJECT_OPTIONS
    if unknown:
        raise ValidationError("options", f"unknown project options: {', '.join(sorted(unknown))}")
    for limit in ("run_timeout_seconds", "idle_timeout_seconds"):
        if options.get(limit) is not None:
            seconds = "must be a whole number of seconds (0 turns the idle timeout off)"
            validation.check_whole_number(options[limit], limit, MAX_SECONDS, seconds)
    if options.get("retry_lost_runs") is not None:
        retries = f"must be a whole number from 0 (off) to {MAX_RETRY_LOST_RUNS}"
        validation.check_whole_number(options["retry_lost_runs"], "retry_lost_runs", MAX_RETRY_LOST_RUNS, retries)
    for flag in ("lock_deploys", "supersede_queued", "allow_free_extra_vars"):
        if options.get(flag) is not None:
            validation.check_flag(options[flag], flag)
    if options.get("run_timeout_seconds") == 0:
        raise ValidationError("run_timeout_seconds", "must be at least 1 second")
    return options


def set_options(session: Session, name: str, **options: int | bool) -> Project:
    """Change a project's run limits and deploy policies (see ``PROJECT_OPTIONS``)."""
    check_options(options)
    project = get_project(session, name)
    before = {option: getattr(project, option) for option in options}
    for option, value in options.items():
        setattr(project, option, value)
    audit.record(session, "project.update", "project", name, {"before": before, "after": options})
    return project


def set_protected(session: Session, name: str, environment: str, protected: bool) -> Environment:
    """Mark an environment protected (only release managers and admins deploy to it) or not."""
    target = get_environment(get_project(session, name), environment)
    if target.protected != protected:
        target.protected = protected
        audit.record(
            session, "project.environment", "project", name, {"environment": environment, "protected": protected}
        )
    return target


def ensure_sample_project(session: Session) -> Project | None:
    """Register the shipped sample project on an empty install so the UI has something to deploy."""
    if session.scalar(select(Project.id).limit(1)) is not None:
        return None
    return add_project(
        session,
        SAMPLE_PROJECT,
        playbook="sampleapp/deploy.yml",
        environments={"staging": "sampleapp/staging.ini", "production": "sampleapp/production.ini"},
        description="A small web app deployed to localhost: release per version, current symlink, health check.",
        protected=frozenset({"production"}),
    )
