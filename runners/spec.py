"""What a worker knows of the run it executes: read once, right after the claim, and carried to the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from playdeck.errors import NotFound
from playdeck.models import Run
from playdeck.runs.queries import get_run
from playdeck.runs.states import RunKind
from playdeck.settings import Settings


@dataclass(frozen=True)
class GitSpec:
    """A git project's run: the commit it executes (resolved when queued) and how to fetch it on this host. The
    credential is not here: it is read with the run's secrets (runners.preparation)."""

    url: str
    ref: str
    commit: str
    submodules: bool
    cache_seconds: int
    username: str
    known_hosts: str


@dataclass(frozen=True)
class RunSpec:
    """Plain values loaded once, so the ORM objects and their session can be closed before running."""

    run_id: int
    kind: RunKind
    attempt: int
    project_id: int
    environment_id: int
    project: str
    environment: str
    playbook: str
    inventory: str
    version: str
    extra_vars: dict[str, Any]
    limit: str
    tags: list[str]
    check: bool
    timeout: int
    idle_timeout: int | None
    # The environment's SSH host keys (known_hosts lines): the only ones the run's ssh accepts.
    known_hosts: str = ""
    # Git projects only (None: the playbook and inventory dirs of the settings).
    git: GitSpec | None = None
    # The environment's inventory typed in Playdeck (INI or YAML) instead of a file; its variables (YAML).
    inline_inventory: str | None = None
    variables_yaml: str = ""
    # The label of the project's vault password (--vault-id LABEL@file); "" for ansible's default id.
    vault_id: str = ""


def _git_spec(run: Run) -> GitSpec | None:
    project = run.project
    if not project.is_git:
        return None
    return GitSpec(
        url=project.git_url or "",
        ref=run.ref,
        # Always set when queued (playdeck.runs.source_refs); "" fails the checkout rather than run a directory.
        commit=run.commit_sha or "",
        submodules=project.git_submodules,
        cache_seconds=project.git_cache_seconds,
        username=project.git_username,
        known_hosts=project.git_known_hosts,
    )


def read(session: Session, run_id: int, settings: Settings) -> RunSpec:
    run = get_run(session, run_id)
    return RunSpec(
        run_id=run.id,
        kind=RunKind(run.kind),
        attempt=run.attempt,
        project_id=run.project_id,
        environment_id=run.environment_id,
        project=run.project.name,
        environment=run.environment.name,
        playbook=run.playbook or run.project.playbook,
        inventory=run.environment.inventory,
        version=run.version,
        extra_vars=run.extra_vars,
        limit=run.limit,
        tags=run.tags,
        check=run.check_mode,
        timeout=min(run.timeout_seconds or run.project.run_timeout_seconds, settings.max_run_seconds),
        idle_timeout=run.idle_timeout_seconds or run.project.idle_timeout_seconds or None,
        known_hosts=run.environment.known_hosts,
        git=_git_spec(run),
        inline_inventory=run.environment.inline_inventory,
        variables_yaml=run.environment.variables_yaml,
        vault_id=run.project.vault_id,
    )


def current_state(session: Session, run_id: int) -> str:
    """The run's state as recorded now; "missing" for a run that does not exist."""
    try:
        return get_run(session, run_id).state
    except NotFound:  # a DB error must surface, not pass for a missing run
        return "missing"
