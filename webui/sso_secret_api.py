"""The OpenID Connect client secret stored in Playdeck: ``/api/v1/sso/client-secret`` — where it comes from
(GET), store or replace it (PUT ``{"value": ...}``), remove it (DELETE); admins. The value is never shown back.
Thin views over ``playdeck.auth.sso.client_secret``, which encrypts and audits."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from playdeck.auth.permissions import Action
from playdeck.auth.sso import client_secret
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from webui import access
from webui.payloads import json_request_body

bp = Blueprint("sso_secret_api", __name__, url_prefix="/api/v1/sso/client-secret")


@bp.get("")
@access.rule(Action.ADMIN)
def show_secret() -> Response:
    with session_scope() as session:
        return jsonify(client_secret.describe(session))


@bp.put("")
@access.rule(Action.ADMIN)
def set_secret() -> Response:
    """Used when neither PLAYDECK_OIDC_CLIENT_SECRET nor its _FILE is set (they win)."""
    body = json_request_body(("value",))
    if "value" not in body:
        raise ValidationError("value", "give the client secret as value")
    with session_scope() as session:
        return jsonify(client_secret.set_secret(session, body["value"]))


@bp.delete("")
@access.rule(Action.ADMIN)
def delete_secret() -> tuple[str, int]:
    with session_scope() as session:
        client_secret.delete_secret(session)
    return "", 204
