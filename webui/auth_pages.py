"""Log in and out of the web UI. A login opens a server-side session (``playdeck.auth.credentials``); its
random key travels in an HttpOnly, SameSite cookie; logging out deletes the session, not only the cookie."""

from __future__ import annotations

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for

from playdeck.auth import credentials
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import TooManyAttempts, Unauthenticated
from playdeck.settings import get_settings
from webui import access

bp = Blueprint("auth", __name__)


def _address() -> str:
    return request.remote_addr or ""


@bp.route("/login", methods=["GET", "POST"])
@access.public
def login() -> Response | tuple[str, int] | str:
    target = access.safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None)
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    try:
        with session_scope() as session:
            try:
                opened = credentials.log_in(session, name, password, _address())
            except Unauthenticated as exc:
                # The failure is recorded in this transaction (the throttle counts it): commit it.
                session.commit()
                return render_template("login.html", next=target, error=exc.message, name=name), 401
    except TooManyAttempts as exc:
        page = make_response(render_template("login.html", next=target, error=exc.message, name=name), 429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    response = redirect(target)
    response.set_cookie(
        access.SESSION_COOKIE,
        opened.session_token,
        max_age=int(credentials.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure or get_settings().secure_cookies,
    )
    return response


@bp.post("/logout")
@access.rule(Action.READ)
def logout() -> Response:
    token = request.cookies.get(access.SESSION_COOKIE)
    if token:
        with session_scope() as session:
            credentials.log_out(session, token)
    response = redirect(url_for("auth.login"))
    response.delete_cookie(access.SESSION_COOKIE)
    return response
