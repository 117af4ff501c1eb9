"""Project secrets for admins: ``/api/v1/projects/<name>/secrets`` — listed masked, set from a JSON body
(never a URL: query strings end up in access logs), deleted. ``?environment=`` scopes one to an
environment; without it the secret applies to every environment of the project."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from playdeck import secrets
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from webui import access, authorize
from webui.payloads import parse_json_object

bp = Blueprint("secrets_api", __name__, url_prefix="/api/v1/projects/<project>/secrets")


def _environment() -> str | None:
    unknown = sorted(set(request.args) - {"environment"})
    if unknown:
        raise ValidationError("parameters", f"unknown parameter(s) {', '.join(unknown)}; allowed: environment")
    return request.args.get("environment") or None


@bp.get("")
@access.rule(Action.ADMIN)
def list_secrets(project: str) -> Response:
    with session_scope() as session:
        return jsonify(secrets=[view.to_dict() for view in secrets.list_secrets(session, project)])


@bp.put("/<kind>")
@access.rule(Action.ADMIN)
def set_secret(project: str, kind: str) -> Response:
    environment = _environment()
    body = parse_json_object(request.get_data(cache=False))
    if set(body) != {"value"} or not isinstance(body["value"], str):
        raise ValidationError("value", 'send {"value": "<the secret>"} and nothing else')
    with session_scope() as session:
        view = secrets.set_secret(session, project, environment, kind, body["value"], who=authorize.actor())
        return jsonify(view.to_dict())


@bp.delete("/<kind>")
@access.rule(Action.ADMIN)
def delete_secret(project: str, kind: str) -> tuple[str, int]:
    environment = _environment()
    with session_scope() as session:
        secrets.delete_secret(session, project, environment, kind, who=authorize.actor())
    return "", 204
