"""What is deployed in an environment, and the deploys that got it there ("Deployed versions").

The deployed run of an environment is its last successful real deploy (of kind deploy, not a check-mode run).
The history lists every real deploy that started there (it touched the hosts, whatever its result), newest
first, one page at a time (keyset by run id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck.commit_label import short_sha
from playdeck.errors import ValidationError
from playdeck.models import Environment, Run
from playdeck.projects import get_environment, get_project
from playdeck.releases import host_versions
from playdeck.runs.conditions import is_real_deploy
from playdeck.runs.queries import last_successful_deploy
from playdeck.serializers import iso

DEFAULT_PAGE = 20
MAX_PAGE = 100


@dataclass(frozen=True)
class Deployment:
    run_id: int
    state: str
    version: str
    ref: str
    commit: str | None
    subject: str
    requested_by: str
    queued_at: Any
    finished_at: Any
    rollback_of: int | None
    current: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "state": self.state,
            "version": self.version,
            "ref": self.ref,
            "commit": self.commit,
            "short_commit": short_sha(self.commit),
            "subject": self.subject,
            "requested_by": self.requested_by,
            "queued_at": iso(self.queued_at),
            "finished_at": iso(self.finished_at),
            "rollback_of": self.rollback_of,
            # What the environment runs now: its last successful real deploy.
            "current": self.current,
        }


def check_page(limit: int | None, before: int | None) -> tuple[int, int | None]:
    limit = DEFAULT_PAGE if limit is None else limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    if before is not None and (isinstance(before, bool) or not isinstance(before, int) or before < 1):
        raise ValidationError("before", "must be a run id")
    return limit, before


def history(
    session: Session, environment: Environment, limit: int | None = None, before: int | None = None
) -> tuple[list[Deployment], bool]:
    """The environment's real deploys that started, newest first: at most ``limit`` older than run ``before``,
    and whether there are more."""
    limit, before = check_page(limit, before)
    current = last_successful_deploy(session, environment.id)
    query = select(Run).where(Run.environment_id == environment.id, is_real_deploy(), Run.started_at.is_not(None))
    if before is not None:
        query = query.where(Run.id < before)
    runs = list(session.scalars(query.order_by(Run.id.desc()).limit(limit + 1)))
    rows = [
        Deployment(
            run_id=run.id,
            state=run.state,
            version=run.version,
            ref=run.ref,
            commit=run.commit_sha,
            subject=run.commit_subject,
            requested_by=run.requested_by,
            queued_at=run.queued_at,
            finished_at=run.finished_at,
            rollback_of=run.rollback_of_id,
            current=run.id == current,
        )
        for run in runs[:limit]
    ]
    return rows, len(runs) > limit


def environment_history(
    session: Session, project_name: str, environment_name: str, limit: int | None = None, before: int | None = None
) -> dict[str, Any]:
    """``history`` of a project's environment, with what each of its hosts runs now, as the API answers it."""
    environment = get_environment(get_project(session, project_name), environment_name)
    rows, more = history(session, environment, limit, before)
    hosts = host_versions.environment_hosts(session, [environment.id])[environment.id]
    return {
        "project": project_name,
        "environment": environment_name,
        # What each host runs now, from what the runs did to it (whatever their end).
        "hosts": host_versions.environment_json(hosts),
        "deployments": [row.to_json() for row in rows],
        "has_more": more,
    }
