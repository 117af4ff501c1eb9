"""Routed notifications as pages (admins), ``/admin/notifications``: the destinations with a form to add one,
and each destination's subscriptions (with a form), switches and delivery log. Buttons post forms back here
(CSRF-checked by ``webui.access``); the work is done by ``playdeck.notifications``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import PlaydeckError, ValidationError
from playdeck.models import Project
from playdeck.notifications import destinations, subscriptions
from playdeck.notifications.events import EVENTS, FAILURE_EVENTS, PHRASES
from webui import access, authorize
from webui.notifications_api import deliveries_page

bp = Blueprint("notification_pages", __name__, url_prefix="/admin/notifications")


def _form_context(error: PlaydeckError | None) -> dict[str, Any]:
    return {
        "form": request.form if error is not None else {},
        "error": error.message if error else None,
        "error_field": getattr(error, "field", None),
        "events": EVENTS,
        "phrases": PHRASES,
        "failure_events": sorted(FAILURE_EVENTS),
    }


def _list_page(error: PlaydeckError | None = None, status: int = 200) -> tuple[str, int]:
    with session_scope() as session:
        found = destinations.list_all(session)
    return render_template("notifications.html", destinations=found, kinds=destinations.KINDS,
                           **_form_context(error)), status  # fmt: skip


def _destination_page(
    name: str, error: ValidationError | None = None, status: int = 200, new_secret: str | None = None
) -> tuple[str, int]:
    with session_scope() as session:
        destination = destinations.view(destinations.get(session, name))
        subs = subscriptions.list_for(session, name)
        project_names = list(session.scalars(select(Project.name).order_by(Project.name)))
        environment_names = subscriptions.environment_names(session)
    rows, next_before = deliveries_page(name)
    return render_template(
        "notification_destination.html", destination=destination, subscriptions=subs, deliveries=rows,
        next_before=next_before, projects=project_names, environments=environment_names, new_secret=new_secret,
        **_form_context(error),
    ), status  # fmt: skip


@bp.get("")
@access.rule(Action.ADMIN)
def index() -> tuple[str, int]:
    return _list_page()


@bp.post("")
@access.rule(Action.ADMIN)
def create() -> Response | tuple[str, int]:
    kind = request.form.get("kind", "")
    target = request.form.get("target", "").strip()
    try:
        with session_scope() as session:
            made = destinations.create(
                session, request.form.get("name", "").strip(), kind,
                url=None if kind == "email" else target, recipients=target if kind == "email" else None,
                active=request.form.get("active") == "1", secret=request.form.get("secret") or None,
                who=authorize.actor(),
            )  # fmt: skip
    # A taken name, no secrets key for a signed destination: the reason above the form again.
    except PlaydeckError as exc:
        return _list_page(exc, exc.status_code)
    if made.secret is None:
        return redirect(url_for("notification_pages.destination", name=made.name), 303)
    # The new signing secret, shown this once: in this answer only, which no cache keeps.
    page, status = _destination_page(made.name, new_secret=made.secret)
    return Response(page, status, headers={"Cache-Control": "no-store"})


@bp.get("/<name>")
@access.rule(Action.ADMIN)
def destination(name: str) -> tuple[str, int]:
    return _destination_page(name)


@bp.post("/<name>/subscriptions")
@access.rule(Action.ADMIN)
def subscribe(name: str) -> Response | tuple[str, int]:
    form = request.form
    values: dict[str, Any] = {
        "project": form.get("project") or None,
        "environment": form.get("environment") or None,
        "events": form.getlist("events") or [],
        "failure_only": form.get("failure_only") == "1",
    }
    values.update({field: form.get(field) or None for field in subscriptions.QUIET_FIELDS})
    try:
        with session_scope() as session:
            subscriptions.create(session, name, values, who=authorize.actor())
    except ValidationError as exc:
        return _destination_page(name, exc, 400)
    return redirect(url_for("notification_pages.destination", name=name), 303)


def _then_back(name: str, action: Callable[[Session], object]) -> Response:
    """Do ``action`` in a transaction, then show the destination's page again."""
    with session_scope() as session:
        action(session)
    return redirect(url_for("notification_pages.destination", name=name), 303)


@bp.post("/<name>/subscriptions/<int:subscription_id>/delete")
@access.rule(Action.ADMIN)
def unsubscribe(name: str, subscription_id: int) -> Response:
    return _then_back(name, lambda session: subscriptions.delete(session, name, subscription_id, who=authorize.actor()))


@bp.post("/<name>/active")
@access.rule(Action.ADMIN)
def set_active(name: str) -> Response:
    active = request.form.get("active") == "1"
    return _then_back(
        name, lambda session: destinations.update(session, name, {"active": active}, who=authorize.actor())
    )


@bp.post("/<name>/test")
@access.rule(Action.ADMIN)
def test(name: str) -> Response:
    return _then_back(name, lambda session: destinations.enqueue_test(session, name, who=authorize.actor()))


@bp.post("/<name>/delete")
@access.rule(Action.ADMIN)
def delete(name: str) -> Response:
    with session_scope() as session:
        destinations.delete(session, name, who=authorize.actor())
    return redirect(url_for("notification_pages.index"), 303)
