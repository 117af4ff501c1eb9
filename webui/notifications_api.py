"""Routed notifications for admins: ``/api/v1/notification-destinations`` — named destinations (create,
list, change, delete, send a test, the delivery log) and each one's subscriptions
(``.../<name>/subscriptions``). Thin views over ``playdeck.notifications``; bad input is a 4xx."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, url_for

from playdeck import webhooks
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from playdeck.notifications import destinations, subscriptions
from webui import access, authorize, delivery_log
from webui.payloads import json_request_body

bp = Blueprint("notifications_api", __name__, url_prefix="/api/v1/notification-destinations")

DESTINATION_FIELDS = ("name", "kind", "url", "recipients", "active", "secret")
CHANGEABLE_FIELDS = ("url", "recipients", "active", "secret")
SUBSCRIPTION_FIELDS = ("project", "environment", "events", "failure_only", *subscriptions.QUIET_FIELDS)


@bp.get("")
@access.rule(Action.ADMIN)
def list_destinations() -> Response:
    with session_scope() as session:
        return jsonify(destinations=[view.to_dict() for view in destinations.list_all(session)])


@bp.post("")
@access.rule(Action.ADMIN)
def create_destination() -> tuple[Response, int]:
    body = json_request_body(DESTINATION_FIELDS)
    for required in ("name", "kind"):
        if required not in body:
            raise ValidationError(required, "is required")
    with session_scope() as session:
        view = destinations.create(
            session, body["name"], body["kind"], url=body.get("url"), recipients=body.get("recipients"),
            active=body.get("active", True), secret=body.get("secret"), who=authorize.actor(),
        )  # fmt: skip
    response = jsonify(view.to_dict())
    if view.secret is not None:
        # The new secret is in this answer: no cache keeps a copy of it.
        response.headers["Cache-Control"] = "no-store"
    response.headers["Location"] = url_for("notifications_api.get_destination", name=view.name)
    return response, 201


@bp.get("/<name>")
@access.rule(Action.ADMIN)
def get_destination(name: str) -> Response:
    with session_scope() as session:
        found = destinations.view(destinations.get(session, name)).to_dict()
        found["subscriptions"] = [sub.to_dict() for sub in subscriptions.list_for(session, name)]
    return jsonify(found)


@bp.patch("/<name>")
@access.rule(Action.ADMIN)
def update_destination(name: str) -> Response:
    body = json_request_body(CHANGEABLE_FIELDS)
    if not body:
        raise ValidationError("body", f"give at least one of {', '.join(CHANGEABLE_FIELDS)}")
    with session_scope() as session:
        return jsonify(destinations.update(session, name, body, who=authorize.actor()).to_dict())


@bp.delete("/<name>")
@access.rule(Action.ADMIN)
def delete_destination(name: str) -> tuple[str, int]:
    with session_scope() as session:
        destinations.delete(session, name, who=authorize.actor())
    return "", 204


@bp.post("/<name>/test")
@access.rule(Action.ADMIN)
def test_destination(name: str) -> tuple[Response, int]:
    """202: a test notification is queued; the delivery log shows how the destination answered."""
    with session_scope() as session:
        delivery = webhooks.delivery_dict(destinations.enqueue_test(session, name, who=authorize.actor()))
    return jsonify(delivery), 202


@bp.get("/<name>/deliveries")
@access.rule(Action.ADMIN)
def list_deliveries(name: str) -> Response:
    rows, next_before = deliveries_page(name)
    more = None if next_before is None else url_for("notifications_api.list_deliveries", name=name, before=next_before)
    return jsonify(deliveries=rows, next=more)


def deliveries_page(name: str) -> tuple[list[dict], int | None]:
    return delivery_log.page(lambda session, before, limit: destinations.list_deliveries(session, name, before, limit))


@bp.get("/<name>/subscriptions")
@access.rule(Action.ADMIN)
def list_subscriptions(name: str) -> Response:
    with session_scope() as session:
        return jsonify(subscriptions=[sub.to_dict() for sub in subscriptions.list_for(session, name)])


@bp.post("/<name>/subscriptions")
@access.rule(Action.ADMIN)
def create_subscription(name: str) -> tuple[Response, int]:
    body = json_request_body(SUBSCRIPTION_FIELDS)
    with session_scope() as session:
        made = subscriptions.create(session, name, body, who=authorize.actor())
    return jsonify(made.to_dict()), 201


@bp.delete("/<name>/subscriptions/<int:subscription_id>")
@access.rule(Action.ADMIN)
def delete_subscription(name: str, subscription_id: int) -> tuple[str, int]:
    with session_scope() as session:
        subscriptions.delete(session, name, subscription_id, who=authorize.actor())
    return "", 204
