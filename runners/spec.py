"""What a worker knows of the run it executes: read once, right after the claim, and carried to the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from playdeck.errors import NotFound
from playdeck.runs.queries import get_run
from playdeck.runs.states import RunKind
from playdeck.settings import Settings


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
        playbook=run.project.playbook,
        inventory=run.environment.inventory,
        version=run.version,
        extra_vars=run.extra_vars,
        limit=run.limit,
        tags=run.tags,
        check=run.check_mode,
        timeout=min(run.timeout_seconds or run.project.run_timeout_seconds, settings.max_run_seconds),
        idle_timeout=run.idle_timeout_seconds or run.project.idle_timeout_seconds or None,
        known_hosts=run.environment.known_hosts,
    )


def current_state(session: Session, run_id: int) -> str:
    """The run's state as recorded now; "missing" for a run that does not exist."""
    try:
        return get_run(session, run_id).state
    except NotFound:  # a DB error must surface, not pass for a missing run
        return "missing"
