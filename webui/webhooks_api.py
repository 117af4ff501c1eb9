"""A project's webhooks for admins: ``/api/v1/projects/<name>/webhooks`` — create, list, pause, delete,
send a test notification, and each webhook's delivery log (``.../<id>/deliveries``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, url_for

from playdeck import webhooks
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from webui import access, authorize, delivery_log
from webui.payloads import json_request_body

bp = Blueprint("webhooks_api", __name__, url_prefix="/api/v1/projects/<project>/webhooks")

CREATE_FIELDS = ("url", "format", "events", "secret", "active")


def deliveries_page(project: str, webhook_id: int) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the webhook's delivery log (``before``, ``limit``) and the id the next page starts before."""
    return delivery_log.page(
        lambda session, before, limit: webhooks.list_deliveries(session, project, webhook_id, before, limit)
    )


@bp.get("")
@access.rule(Action.ADMIN)
def list_webhooks(project: str) -> Response:
    with session_scope() as session:
        return jsonify(webhooks=[view.to_dict() for view in webhooks.list_webhooks(session, project)])


@bp.post("")
@access.rule(Action.ADMIN)
def create_webhook(project: str) -> tuple[Response, int]:
    body = json_request_body(CREATE_FIELDS)
    if "url" not in body:
        raise ValidationError("url", "is required")
    with session_scope() as session:
        view = webhooks.create_webhook(
            session,
            project,
            body["url"],
            format=body.get("format", "json"),
            events=body.get("events"),
            secret=body.get("secret", ""),
            active=body.get("active", True),
            who=authorize.actor(),
        )
    response = jsonify(view.to_dict())
    response.headers["Location"] = url_for("webhooks_api.get_webhook", project=view.project, webhook_id=view.id)
    return response, 201


@bp.get("/<int:webhook_id>")
@access.rule(Action.ADMIN)
def get_webhook(project: str, webhook_id: int) -> Response:
    with session_scope() as session:
        return jsonify(webhooks.get_view(session, project, webhook_id).to_dict())


@bp.patch("/<int:webhook_id>")
@access.rule(Action.ADMIN)
def update_webhook(project: str, webhook_id: int) -> Response:
    body = json_request_body(("active",))
    if "active" not in body:
        raise ValidationError("active", "is required")
    with session_scope() as session:
        return jsonify(
            webhooks.set_active(session, project, webhook_id, body["active"], who=authorize.actor()).to_dict()
        )


@bp.delete("/<int:webhook_id>")
@access.rule(Action.ADMIN)
def delete_webhook(project: str, webhook_id: int) -> tuple[str, int]:
    with session_scope() as session:
        webhooks.delete_webhook(session, project, webhook_id, who=authorize.actor())
    return "", 204


@bp.post("/<int:webhook_id>/test")
@access.rule(Action.ADMIN)
def test_webhook(project: str, webhook_id: int) -> tuple[Response, int]:
    """202: a test notification is queued; the delivery log shows how the receiver answered."""
    with session_scope() as session:
        delivery = webhooks.delivery_dict(webhooks.enqueue_test(session, project, webhook_id, who=authorize.actor()))
    return jsonify(delivery), 202


@bp.get("/<int:webhook_id>/deliveries")
@access.rule(Action.ADMIN)
def list_deliveries(project: str, webhook_id: int) -> Response:
    rows, next_before = deliveries_page(project, webhook_id)
    more = None
    if next_before is not None:
        more = url_for("webhooks_api.list_deliveries", project=project, webhook_id=webhook_id, before=next_before)
    return jsonify(deliveries=rows, next=more)
