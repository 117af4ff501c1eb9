"""Who is calling, and may they: every route declares its ``Action`` with ``@rule`` (or ``@public``),
and an app with a route that declares nothing refuses to start — a new route cannot be open by omission.

A caller is known by an API token (``Authorization: Bearer …``) or by the session cookie a login set.
Unknown callers get 401 (pages: a redirect to the login page); known callers whose role is too low get
403. A cookie is sent by the browser on its own, so a state-changing request authenticated by it must
also carry the session's CSRF token (a form's hidden ``csrf_token``, or the ``X-CSRF-Token`` header).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, redirect, request, url_for

from playdeck import audit
from playdeck.auth import credentials, permissions
from playdeck.auth.permissions import Action, Principal
from playdeck.db import connection_scope
from playdeck.errors import Forbidden, Unauthenticated
from webui import errors

RULE_ATTRIBUTE = "playdeck_access"
PUBLIC = "public"
SESSION_COOKIE = "playdeck_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Flask's own endpoint for static files.
STATIC_ENDPOINT = "static"

View = TypeVar("View", bound=Callable[..., Any])


def rule(action: Action) -> Callable[[View], View]:
    """The action a route performs; the caller's role must allow it (``permissions.LEAST_ROLE``)."""

    def mark(view: View) -> View:
        setattr(view, RULE_ATTRIBUTE, action)
        return view

    return mark


def public(view: View) -> View:
    """Open without a login: the login page, the health check."""
    setattr(view, RULE_ATTRIBUTE, PUBLIC)
    return view


def rule_of(app: Flask, endpoint: str) -> Action | str | None:
    if endpoint == STATIC_ENDPOINT:
        return PUBLIC
    return getattr(app.view_functions[endpoint], RULE_ATTRIBUTE, None)


def principal() -> Principal:
    """The caller of a route that is not public (set before the view runs)."""
    return g.principal


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _identify() -> None:
    token = _bearer()
    if token is not None:
        with connection_scope() as connection:
            g.principal = credentials.token_principal(connection, token)
        if g.principal is None:
            raise Unauthenticated("the API token is unknown, expired or revoked")
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with connection_scope() as connection:
            g.principal = credentials.session_principal(connection, cookie)
        if g.principal is not None:
            g.session_token = cookie


def _check_csrf() -> None:
    if g.session_token is None or request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not credentials.csrf_matches(g.session_token, given):
        raise Forbidden("the form's CSRF token is missing or stale: reload the page and try again")


def _login_redirect() -> Response:
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _authorize() -> Response | None:
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: the 404 handler answers
        return None
    action = rule_of(current_app, endpoint)
    if action is None:  # create_app refuses this; a guard for routes added later
        raise Forbidden("this route declares no access rule")
    g.principal, g.session_token = None, None
    if action == PUBLIC:
        # Not even a credential lookup: the health check must answer while the DB is down.
        return None
    _identify()
    if g.principal is None:
        if not request.path.startswith(errors.API_PREFIX) and request.method in SAFE_METHODS:
            return _login_redirect()
        raise Unauthenticated("log in first (pages) or send an API token (Authorization: Bearer …)")
    _check_csrf()
    permissions.require(g.principal, action)
    # What the request changes is audited as this caller, from this address (playdeck.audit).
    g.audit_binding = audit.bind(g.principal.name, request.remote_addr or "")
    return None


def _unbind_audit(_error: BaseException | None) -> None:
    binding = g.pop("audit_binding", None)
    if binding is not None:
        audit.unbind(binding)


def csrf_token() -> str:
    """For templates: the form token of the caller's session ("" when they came with a token)."""
    token = g.get("session_token")
    return credentials.csrf_token(token) if token else ""


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (never another host)."""
    # "//host" and "/\host" are other sites to a browser; a control character (CR LF) has no place in a path
    # and no place in the Location header it would go into.
    if (
        not target
        or not target.startswith("/")
        or target[1:2] in ("/", "\\")
        or not target.isprintable()
        or urlsplit(target).netloc
    ):
        return url_for("pages.dashboard")
    return target


def _security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def unruled_routes(app: Flask) -> list[str]:
    return sorted(endpoint for endpoint in app.view_functions if rule_of(app, endpoint) is None)


def register(app: Flask) -> None:
    missing = unruled_routes(app)
    if missing:
        raise RuntimeError(f"routes without an access rule (webui.access.rule or public): {', '.join(missing)}")
    app.before_request(_authorize)
    app.teardown_request(_unbind_audit)
    app.after_request(_security_headers)
    app.add_template_global(csrf_token)
    app.add_template_global(lambda: g.get("principal"), name="current_user")
