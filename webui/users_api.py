"""Users, their grants and API tokens in the JSON API, with the rules of the admin and account pages:
``/api/v1/users`` (admins) and ``/api/v1/tokens`` (everyone their own; admins any).

Passwords and tokens travel only in request bodies, never in a URL (query strings end up in access
logs); a token is answered once, when it is made, and never again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from playdeck.auth import credentials, users
from playdeck.auth.models import ApiToken
from playdeck.auth.permissions import Action, Role
from playdeck.db import session_scope
from playdeck.dns import editors
from playdeck.errors import Forbidden, ValidationError
from webui import access
from webui.payloads import json_request_body

bp = Blueprint("users_api", __name__, url_prefix="/api/v1")

NEW_USER_FIELDS = ("name", "role", "password")
USER_CHANGES = ("role", "active", "password", "revoke_tokens")
TOKEN_FIELDS = ("name", "expires_in_days")


def _text(body: Mapping[str, Any], field: str, default: str | None = None) -> str | None:
    value = body.get(field, default)
    if value is not None and not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    return value


# --- users (admins) ---------------------------------------------------------------------------------


@bp.get("/users")
@access.rule(Action.ADMIN)
def list_users() -> Response:
    with session_scope() as session:
        return jsonify(users=users.describe_all(session))


@bp.post("/users")
@access.rule(Action.ADMIN)
def create_user() -> tuple[Response, int]:
    body = json_request_body(NEW_USER_FIELDS)
    with session_scope() as session:
        created = users.create_user(session, body.get("name"), body.get("role"), _text(body, "password"))
        response = jsonify(users.describe_one(session, created))
    response.headers["Location"] = url_for(".get_user", user=created.name)
    return response, 201


@bp.get("/users/<user>")
@access.rule(Action.ADMIN)
def get_user(user: str) -> Response:
    with session_scope() as session:
        return jsonify(users.describe_one(session, users.get_user(session, user)))


@bp.patch("/users/<user>")
@access.rule(Action.ADMIN)
def update_user(user: str) -> Response:
    """A new password ends the user's login sessions; ``revoke_tokens: true`` (with a password reset after
    a takeover, or alone) revokes all their tokens; ``active: false`` also revokes them, for good."""
    body = json_request_body(USER_CHANGES)
    if not body:
        raise ValidationError("body", f"nothing to change; give any of {', '.join(USER_CHANGES)}")
    active, revoke_tokens = body.get("active"), body.get("revoke_tokens", False)
    for field, value in (("active", active), ("revoke_tokens", revoke_tokens)):
        if value is not None and not isinstance(value, bool):
            raise ValidationError(field, "must be true or false")
    with session_scope() as session:
        changed = users.get_user(session, user)
        users.update_user(
            session,
            changed,
            role=body.get("role"),
            active=active,
            password=_text(body, "password"),
            revoke_all_tokens=bool(revoke_tokens),
        )
        return jsonify(users.describe_one(session, changed))


def _grant(user: str, change, value: str) -> Response:
    with session_scope() as session:
        changed = users.get_user(session, user)
        change(session, changed, value)
        session.flush()
        return jsonify(users.describe_one(session, changed))


@bp.put("/users/<user>/projects/<project>")
@access.rule(Action.ADMIN)
def grant_project(user: str, project: str) -> Response:
    return _grant(user, users.grant_project, project)


@bp.delete("/users/<user>/projects/<project>")
@access.rule(Action.ADMIN)
def revoke_project(user: str, project: str) -> Response:
    return _grant(user, users.revoke_project, project)


@bp.put("/users/<user>/zones/<zone>")
@access.rule(Action.ADMIN)
def grant_zone(user: str, zone: str) -> Response:
    return _grant(user, editors.grant_zone, zone)


@bp.delete("/users/<user>/zones/<zone>")
@access.rule(Action.ADMIN)
def revoke_zone(user: str, zone: str) -> Response:
    return _grant(user, editors.revoke_zone, zone)


# --- API tokens (everyone their own) ----------------------------------------------------------------


def _is_admin() -> bool:
    return access.principal().at_least(Role.ADMIN)


@bp.get("/tokens")
@access.rule(Action.READ)
def list_tokens() -> Response:
    """The caller's tokens; ``?user=NAME`` another user's (admins), ``?user=`` empty: everyone's (admins)."""
    unknown = sorted(set(request.args) - {"user"})
    if unknown:
        raise ValidationError("parameters", f"unknown parameter(s) {', '.join(unknown)}; allowed: user")
    caller = access.principal().name
    owner = request.args.get("user", caller) or None
    if owner != caller and not _is_admin():
        raise Forbidden("only admins see the tokens of other users")
    with session_scope() as session:
        return jsonify(tokens=[credentials.describe_token(token) for token in credentials.list_tokens(session, owner)])


@bp.post("/tokens")
@access.rule(Action.READ)
def create_token() -> tuple[Response, int]:
    """A token of the caller's own, answered this once. Made with a token, it is that token's child: it
    expires no later (without ``expires_in_days``: with it) and is revoked with it."""
    body = json_request_body(TOKEN_FIELDS)
    expires_at = credentials.expiry_after(body.get("expires_in_days"))
    caller = access.principal()
    with session_scope() as session:
        issued = credentials.create_token(
            session, caller.name, name=_text(body, "name", "") or "", expires_at=expires_at, parent_id=caller.token_id
        )
        session.flush()
        shown = credentials.describe_token(session.get(ApiToken, issued.id))
    return jsonify({**shown, "token": issued.token}), 201


@bp.delete("/tokens/<int:token_id>")
@access.rule(Action.READ)
def revoke_token(token_id: int) -> tuple[str, int]:
    """The caller's own token (an admin: anyone's); it stops working at once."""
    with session_scope() as session:
        credentials.revoke_token(session, token_id, owner=None if _is_admin() else access.principal().name)
    return "", 204
