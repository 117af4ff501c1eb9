"""What a destination hears: subscriptions per project and environment (admins).

A subscription names a project (or every project) and an environment (or every one; by name, so
"production" of every project), the events it wants (``playdeck.notifications.events.EVENTS``), and two
switches: ``failure_only`` (only failed, timeout and lost, whatever else is listed; approval requests are
not failures: subscribe to approval_requested without failure_only to hear them) and quiet hours
(``playdeck.notifications.quiet_hours``: non-failures wait until the window ends).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck import audit, projects
from playdeck.errors import NotFound, ValidationError
from playdeck.models import Environment, Project, utcnow
from playdeck.notifications import destinations, quiet_hours
from playdeck.notifications.events import EVENTS, FAILURE_EVENTS, choose
from playdeck.notifications.models import NotificationDestination, NotificationSubscription
from playdeck.serializers import iso

ENVIRONMENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
QUIET_FIELDS = ("quiet_start", "quiet_end", "quiet_zone")


@dataclass(frozen=True)
class SubscriptionView:
    id: int
    destination: str
    project: str | None
    environment: str | None
    events: list[str]
    failure_only: bool
    quiet_hours: dict[str, str] | None
    created_at: dt.datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": iso(self.created_at)}


def _view(session: Session, destination: NotificationDestination, sub: NotificationSubscription) -> SubscriptionView:
    project = None if sub.project_id is None else session.get(Project, sub.project_id)
    quiet = None
    if sub.quiet_start is not None:
        quiet = {"start": sub.quiet_start, "end": sub.quiet_end or "", "zone": sub.quiet_zone or ""}
    return SubscriptionView(
        sub.id,
        destination.name,
        project.name if project else None,
        sub.environment,
        sub.events.split(","),
        sub.failure_only,
        quiet,
        sub.created_at,
        sub.created_by,
    )


# --- validation -------------------------------------------------------------------------------------


def validate_events(events: Any) -> list[str]:
    """The chosen events in the canonical order; None: every event."""
    return choose(events, EVENTS)


def _scope(session: Session, project: Any, environment: Any) -> tuple[int | None, str | None]:
    """The project's id and the environment's name (None: every one)."""
    if environment is not None and (not isinstance(environment, str) or not ENVIRONMENT_RE.fullmatch(environment)):
        raise ValidationError("environment", "must be an environment's name (or null for every environment)")
    if project is None:
        return None, environment
    if not isinstance(project, str):
        raise ValidationError("project", "must be a project's name (or null for every project)")
    try:
        found = projects.get_project(session, project)
    except NotFound:
        raise ValidationError("project", f"there is no project named {project[:100]!r}") from None
    names = [env.name for env in found.environments]
    if environment is not None and environment not in names:
        raise ValidationError("environment", f"project {found.name} has no environment {environment!r}; it has "
                                             f"{', '.join(names) or 'none'}")  # fmt: skip
    return found.id, environment


def _quiet(values: dict[str, Any]) -> tuple[str, str, str] | None:
    given = [values.get(name) for name in QUIET_FIELDS]
    if all(value in (None, "") for value in given):
        return None
    if any(value in (None, "") for value in given):
        raise ValidationError("quiet_hours", "needs quiet_start, quiet_end and quiet_zone together")
    start, end, zone = given
    if quiet_hours.parse_time(start, "quiet_start") == quiet_hours.parse_time(end, "quiet_end"):
        raise ValidationError("quiet_end", "must differ from quiet_start (an empty window)")
    quiet_hours.parse_zone(zone)
    return start, end, zone


# --- management -------------------------------------------------------------------------------------


def create(session: Session, destination: str, values: dict[str, Any], who: str | None = None) -> SubscriptionView:
    """Subscribe ``destination`` to ``values``: project, environment, events, failure_only, quiet_start,
    quiet_end, quiet_zone (each optional)."""
    found = destinations.get(session, destination)
    project_id, environment = _scope(session, values.get("project"), values.get("environment"))
    events = validate_events(values.get("events"))
    failure_only = values.get("failure_only", False)
    if not isinstance(failure_only, bool):
        raise ValidationError("failure_only", "must be true or false")
    if failure_only and not FAILURE_EVENTS & set(events):
        raise ValidationError("events", f"failure_only sends only {', '.join(sorted(FAILURE_EVENTS))}: list one")
    quiet = _quiet(values)
    sub = NotificationSubscription(
        destination_id=found.id, project_id=project_id, environment=environment, events=",".join(events),
        failure_only=failure_only, quiet_start=quiet and quiet[0], quiet_end=quiet and quiet[1],
        quiet_zone=quiet and quiet[2], created_at=utcnow(), created_by=who or audit.current_actor().name,
    )  # fmt: skip
    session.add(sub)
    session.flush()
    made = _view(session, found, sub)
    audit.record(session, "notification.subscription.create", "notification_subscription", sub.id,
                 made.to_dict(), actor=who)  # fmt: skip
    return made


def list_for(session: Session, destination: str) -> list[SubscriptionView]:
    found = destinations.get(session, destination)
    subs = session.scalars(
        select(NotificationSubscription)
        .where(NotificationSubscription.destination_id == found.id)
        .order_by(NotificationSubscription.id)
    )
    return [_view(session, found, sub) for sub in subs]


def delete(session: Session, destination: str, subscription_id: int, who: str | None = None) -> None:
    found = destinations.get(session, destination)
    sub = session.get(NotificationSubscription, subscription_id)
    if sub is None or sub.destination_id != found.id:
        raise NotFound(f"notification destination {found.name} has no subscription {subscription_id}")
    details = _view(session, found, sub).to_dict()
    session.delete(sub)
    audit.record(session, "notification.subscription.delete", "notification_subscription", subscription_id, details,
                 actor=who)  # fmt: skip


def environment_names(session: Session) -> list[str]:
    """Every environment name in use (for the admin page's choices)."""
    return list(session.scalars(select(Environment.name).distinct().order_by(Environment.name)))
