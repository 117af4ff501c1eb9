"""Log in and out of the web UI. A login opens a server-side session (``playdeck.auth.credentials``); its
random key travels in an HttpOnly, SameSite cookie; logging out deletes the session, not only the cookie."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request, url_for

from playdeck.auth import credentials, login_form, password_login
from playdeck.auth.permissions import Action
from playdeck.auth.sso import oidc
from playdeck.db import session_scope
from playdeck.errors import DirectoryUnavailable, Forbidden, TooManyAttempts, Unauthenticated
from playdeck.settings import get_settings
from webui import access, origin

bp = Blueprint("auth", __name__)
LOGIN_CSRF_COOKIE = "playdeck_login_form"
# How long a login form may stay open before it must be reloaded.
LOGIN_FORM_SECONDS = 3600


def _address() -> str:
    return request.remote_addr or ""


def _form_key() -> bytes:
    configured = current_app.config.get("SECRET_KEY")
    if configured:
        return configured.encode() if isinstance(configured, str) else configured
    return login_form.shared_key()


def _form(target: str, status: int = 200, **context: object) -> Response:
    """The login form, with a signed random nonce in a cookie and a token derived from it in the form
    (``playdeck.auth.login_form``): a page of another site can post a login form but can neither read
    this cookie nor plant one that verifies, so it cannot log a browser into an account of its choosing."""
    issued = login_form.issue(_form_key())
    settings = get_settings()
    sso = settings.oidc_display_name if oidc.enabled(settings) else None
    page = make_response(render_template("login.html", next=target, login_csrf=issued.token, sso=sso,
                                         local_logins=settings.local_logins, directory=bool(settings.ldap_urls),
                                         **context), status)  # fmt: skip
    page.set_cookie(
        LOGIN_CSRF_COOKIE, issued.cookie, max_age=LOGIN_FORM_SECONDS, httponly=True, samesite="Strict",
        path="/login", secure=request.is_secure or get_settings().secure_cookies,
    )  # fmt: skip
    return page


def _from_this_form() -> bool:
    """The post carries the token of this browser's form cookie, and (if the browser says) comes from
    this site: a sibling subdomain can plant cookies but not forge its Origin."""
    if not origin.same_origin():
        return False
    cookie, token = request.cookies.get(LOGIN_CSRF_COOKIE), request.form.get(access.CSRF_FIELD)
    return login_form.verify(_form_key(), cookie, token, LOGIN_FORM_SECONDS)


def set_session_cookie(response: Response, session_token: str) -> None:
    response.set_cookie(
        access.SESSION_COOKIE,
        session_token,
        max_age=int(credentials.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure or get_settings().secure_cookies,
    )


@bp.route("/login", methods=["GET", "POST"])
@access.public
def login() -> Response:
    target = access.safe_next(request.values.get("next"))
    if request.method == "GET":
        return _form(target, error=None)
    if not _from_this_form():
        return _form(target, 400, error="the login form expired or came from another site: log in again here")
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    try:
        opened = password_login.log_in(name, password, _address())
    except TooManyAttempts as exc:
        page = _form(target, 429, error=exc.message, name=name)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except (Unauthenticated, Forbidden, DirectoryUnavailable) as exc:
        # Wrong password (401); known to the directory, no access here (403); the directory down (503):
        # local accounts still log in.
        return _form(target, exc.status_code, error=exc.message, name=name)
    response = redirect(target)
    set_session_cookie(response, opened.session_token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
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
