"""The freeze rule of ``admission``: a deploy requested while a freeze window is in effect for its environment
is refused (409) with the window's name and end, in the window's zone and in UTC. A release manager or an
admin may deploy anyway with a reason (``RunRequest.freeze_override``); the run keeps the reason, the
override is audited and notified (``record_override``, once the run exists).

Who may override is decided here, by the requester's role as stored, so every way of asking for a deploy
(API, web form, CLI through the API) is held to it alike. An override when nothing is frozen is refused
too: every override recorded on a run was needed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck import audit, webhooks
from playdeck.auth.models import User
from playdeck.auth.permissions import LEAST_ROLE, RANK, Action, Role
from playdeck.errors import Conflict, Forbidden
from playdeck.models import Environment, Project, Run
from playdeck.release_control import freeze_windows
from playdeck.release_control.freeze_calendar import FreezeStatus, end_text, utc_text
from playdeck.runs.run_request import RunRequest
from playdeck.serializers import iso

MAX_OVERRIDE_CHARS = 1000
# Windows named in a refusal, at most (a chain may hold many).
NAMED = 5
EVENT = "freeze_overridden"


class Frozen(Conflict):
    """A deploy refused by a freeze window; ``status`` says which windows and until when."""

    def __init__(self, message: str, status: FreezeStatus) -> None:
        super().__init__(message)
        self.status = status


def override_reason(value: object) -> str:
    """The override's reason, checked ("": no override)."""
    return freeze_windows.checked_text(value, "freeze_override", MAX_OVERRIDE_CHARS, required=False, lines=True)


def _require_override_role(session: Session, name: str) -> None:
    row = session.execute(select(User.role, User.active).where(User.name == name)).one_or_none()
    needed = LEAST_ROLE[Action.OVERRIDE_FREEZE]
    if row is None or not row.active or RANK[Role(row.role)] < RANK[needed]:
        role = Role(row.role).value if row is not None else "no user"
        raise Forbidden(
            f"overriding a freeze window needs the {needed.value} role or higher ({name} is {role}): "
            "ask a release manager to deploy, or wait for the window to end"
        )


def refusal(project: Project, environment: Environment, status: FreezeStatus) -> str:
    """Which windows freeze the environment, and until when, in each window's zone and in UTC."""
    names = " and ".join(f"'{held.window.name}' ({held.window.label})" for held in status.current)
    last = max(status.current, key=lambda held: held.end)
    message = f"deploys to {project.name}/{environment.name} are frozen by {names} until {end_text(last)}"
    if status.chain:
        names = list(dict.fromkeys(held.window.name for held in status.chain))
        following = ", ".join(f"'{name}'" for name in names[:NAMED]) + (
            f" and {len(names) - NAMED} more" if len(names) > NAMED else ""
        )
        message += (
            f"; {following} follow{'s' if len(names) == 1 else ''} without a gap, so deploys are refused "
            f"until {end_text(status.chain[-1])}"
        )
    if status.open_ended:
        message += f" and the windows go on chaining past that ({utc_text(status.until)})"  # type: ignore[arg-type]
    return message + "; a release manager may deploy anyway with a reason (freeze_override, --override-freeze)"


def check(
    session: Session, request: RunRequest, project: Project, environment: Environment, at: dt.datetime | None = None
) -> None:
    """The admission rule (``admission.RULES``)."""
    reason = override_reason(request.freeze_override)
    if reason:
        _require_override_role(session, request.requested_by)
    status = freeze_windows.status_at(session, environment.id, at)
    if not status.frozen:
        if reason:
            raise Conflict(
                f"no freeze window is in effect for {project.name}/{environment.name}: deploy without an override"
            )
        return
    if not reason:
        raise Frozen(refusal(project, environment, status), status)
    request.freeze_override = reason


def record_override(session: Session, run: Run) -> None:
    """In the run's own transaction: the override audited and notified (``freeze_overridden``)."""
    status = freeze_windows.status_at(session, run.environment_id)
    audit.record(
        session,
        "run.freeze_override",
        "run",
        run.id,
        {
            "project": run.project.name,
            "environment": run.environment.name,
            "reason": run.freeze_override,
            "windows": list(dict.fromkeys(held.window.name for held in status.current + status.chain)),
            "frozen_until": iso(status.until),
        },
    )
    webhooks.enqueue_event(session, run.id, EVENT)
