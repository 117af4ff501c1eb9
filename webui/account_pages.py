"""``/account``: every logged-in user's own page — their role and grants, a new password, their API tokens
(made here, shown once; revoked here).

Changing the password needs the current one and ends every other login session of the user; the one
that asked stays logged in. Every form carries the session's CSRF token (``webui.access``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from playdeck.auth import credentials, users
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import PlaydeckError, ValidationError
from webui import access
from webui.origin import require_same_origin
from webui.params import int_param

bp = Blueprint("account_pages", __name__, url_prefix="/account")

PageResult = str | tuple[str, int] | Response
CROSS_SITE = "your password and tokens can only be changed from Playdeck's own pages or through the API"
NOTICES = {
    "password": "Your password was changed. Your other login sessions were logged out.",
    "revoked": "The token was revoked: it no longer works.",
}


def _page(status: int = 200, **context: Any) -> Response:
    name = access.principal().name
    with session_scope() as session:
        described = users.describe_one(session, users.get_user(session, name))
        tokens = [credentials.describe_token(token) for token in credentials.list_tokens(session, name)]
    context.setdefault("notice", NOTICES.get(request.args.get("done", "")))
    page = render_template(
        "account.html",
        user=described,
        tokens=tokens,
        revoke_url=lambda token_id: url_for(".revoke_token", token_id=token_id),
        max_token_days=credentials.MAX_TOKEN_DAYS,
        **context,
    )
    response = Response(page, status)
    if context.get("issued"):
        # The new token is in this page: no cache keeps a copy of it.
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
@access.rule(Action.READ)
def page() -> Response:
    return _page()


@bp.post("/password")
@access.rule(Action.READ)
def change_password() -> PageResult:
    require_same_origin(CROSS_SITE)
    form = request.form
    try:
        new = form.get("new_password", "")
        if new != form.get("confirm_password", ""):
            raise ValidationError("confirm_password", "the new password and its repetition differ")
        with session_scope() as session:
            credentials.change_own_password(
                session, access.principal().name, form.get("current_password", ""), new, g.get("session_token")
            )
    except PlaydeckError as exc:
        return _page(exc.status_code, password_error=exc.message, error_field=getattr(exc, "field", None))
    return redirect(url_for(".page", done="password"), 303)


@bp.post("/tokens")
@access.rule(Action.READ)
def create_token() -> PageResult:
    require_same_origin(CROSS_SITE)
    typed = {"name": request.form.get("name", "").strip(), "expires_in_days": request.form.get("expires_in_days", "")}
    try:
        days = int_param("expires_in_days", typed["expires_in_days"].strip(), 0, 1, credentials.MAX_TOKEN_DAYS)
        with session_scope() as session:
            issued = credentials.create_token(
                session, access.principal().name, name=typed["name"], expires_at=credentials.expiry_after(days or None)
            )
    except PlaydeckError as exc:
        return _page(exc.status_code, token_error=exc.message, token_form=typed)
    return _page(issued=issued)


@bp.post("/tokens/<int:token_id>/revoke")
@access.rule(Action.READ)
def revoke_token(token_id: int) -> PageResult:
    require_same_origin(CROSS_SITE)
    with session_scope() as session:
        credentials.revoke_token(session, token_id, owner=access.principal().name)
    return redirect(url_for(".page", done="revoked"), 303)
