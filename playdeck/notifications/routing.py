"""From a run's event to deliveries: which destinations hear it, as what, and when.

Called through ``playdeck.webhooks.enqueue_event`` in the transaction of the event (a state change, an
approval, a freeze override, the reaper's running_long notice), so the deliveries commit or roll back
with it; sending is left to the outbox's sender, so a destination that is down never delays a run.

A destination hears an event once, however many of its subscriptions match (the project's and an
every-project one). A success that fixes a failure is "fixed" to subscriptions that list fixed and
"succeeded" to those that list only succeeded. Failure-only subscriptions hear failures only, and quiet
hours hold non-failures back until the window ends (``playdeck.notifications.quiet_hours``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from playdeck.models import Environment, Run, utcnow
from playdeck.notifications import quiet_hours, rendering
from playdeck.notifications.events import FAILURE_EVENTS
from playdeck.notifications.models import NotificationDestination, NotificationSubscription
from playdeck.notifications.outbox import pending, run_facts
from playdeck.runs.queries import fixes_a_failure

Subscription = NotificationSubscription


def _matching(session: Session, run_id: int) -> list[tuple[NotificationSubscription, str]]:
    """The subscriptions (with their destination's kind) of active destinations that cover the run's
    project and environment: one query, in every state change's transaction."""
    rows = session.execute(
        select(Subscription, NotificationDestination.kind)
        .join(NotificationDestination, Subscription.destination_id == NotificationDestination.id)
        .join(Run, Run.id == run_id)
        .join(Environment, Environment.id == Run.environment_id)
        .where(
            NotificationDestination.active == true(),
            or_(Subscription.project_id.is_(None), Subscription.project_id == Run.project_id),
            or_(Subscription.environment.is_(None), Subscription.environment == Environment.name),
        )
        .order_by(Subscription.id)
    ).all()
    return [(row[0], row[1]) for row in rows]


def _candidates(session: Session, run_id: int, event: str, subs: list[NotificationSubscription]) -> list[str]:
    """What the event may be told as, the most specific first."""
    if event == "succeeded" and any("fixed" in sub.events.split(",") for sub in subs):
        if fixes_a_failure(session, run_id):
            return ["fixed", "succeeded"]
    return [event]


def _quiet(sub: NotificationSubscription) -> tuple[str, str, str] | None:
    if sub.quiet_start and sub.quiet_end and sub.quiet_zone:
        return sub.quiet_start, sub.quiet_end, sub.quiet_zone
    return None


def plan(session: Session, run_id: int, event: str, now: dt.datetime) -> dict[int, tuple[str, dt.datetime, str]]:
    """By destination id: the event it hears, when, and the destination's kind."""
    rows = _matching(session, run_id)
    if not rows:
        return {}
    candidates = _candidates(session, run_id, event, [sub for sub, _ in rows])
    plans: dict[int, tuple[str, dt.datetime, str]] = {}
    for sub, kind in rows:
        listed = sub.events.split(",")
        told = next((name for name in candidates if name in listed), None)
        if told is None or (sub.failure_only and told not in FAILURE_EVENTS):
            continue
        due = quiet_hours.due_at(told, _quiet(sub), now)
        known = plans.get(sub.destination_id)
        # The most specific event, the soonest time, of all its subscriptions that want it.
        if known is None or (candidates.index(told), due) < (candidates.index(known[0]), known[1]):
            plans[sub.destination_id] = (told, due, kind)
    return plans


def route(session: Session, run_id: int, event: str, now: dt.datetime | None = None) -> int:
    """A pending delivery of the run's ``event`` to each destination subscribed to it. Returns how many."""
    now = now or utcnow()
    plans = plan(session, run_id, event, now)
    if not plans:
        return 0
    run = run_facts(session, run_id)
    for destination_id, (told, due, kind) in plans.items():
        body = rendering.render(kind, told, run)
        session.add(pending(run_id, told, body, now, destination_id=destination_id, due_at=due))
    session.flush()
    return len(plans)
