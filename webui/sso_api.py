"""Single sign-on group mapping rules: ``/api/v1/sso/rules`` — list, add, and ``/<id>`` read, change, delete
(admins). Thin views over ``playdeck.auth.sso.rules``, which checks and audits."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from playdeck.auth.permissions import Action
from playdeck.auth.sso import rules
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from webui import access
from webui.created import created
from webui.payloads import json_request_body

bp = Blueprint("sso_api", __name__, url_prefix="/api/v1/sso/rules")


@bp.get("")
@access.rule(Action.ADMIN)
def list_rules() -> Response:
    with session_scope() as session:
        return jsonify(rules=[rules.describe(rule) for rule in rules.list_rules(session)])


@bp.post("")
@access.rule(Action.ADMIN)
def create_rule() -> tuple[Response, int]:
    body = json_request_body(rules.RULE_FIELDS)
    with session_scope() as session:
        shown = rules.describe(rules.create_rule(session, body))
    return created(shown, "sso_api.get_rule", rule_id=shown["id"])


@bp.get("/<int:rule_id>")
@access.rule(Action.ADMIN)
def get_rule(rule_id: int) -> Response:
    with session_scope() as session:
        return jsonify(rules.describe(rules.get_rule(session, rule_id)))


@bp.patch("/<int:rule_id>")
@access.rule(Action.ADMIN)
def update_rule(rule_id: int) -> Response:
    """A change applies to each user at their next login."""
    body = json_request_body(rules.RULE_FIELDS)
    if not body:
        raise ValidationError("body", f"nothing to change; give any of {', '.join(rules.RULE_FIELDS)}")
    with session_scope() as session:
        return jsonify(rules.describe(rules.update_rule(session, rule_id, body)))


@bp.delete("/<int:rule_id>")
@access.rule(Action.ADMIN)
def delete_rule(rule_id: int) -> tuple[str, int]:
    with session_scope() as session:
        rules.delete_rule(session, rule_id)
    return "", 204
