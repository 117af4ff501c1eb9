"""Logging in with OpenID Connect: ``/login/oidc`` sends the browser to the provider, ``/login/oidc/callback``
takes its answer (``playdeck.auth.sso.oidc``), signs the identity in with the group mapping
(``playdeck.auth.sso.mapping``) and opens a session. Whatever is refused — a forged or expired token, a replayed
login, a provider down or slow, no matching group — ends on a page that says why (and that a break-glass
password login still works), is audited, and grants nothing.

``/admin/sso`` (admins) shows the configuration and the rules, and tests them: an admin logs in at the provider
as a test user and sees the claims and the role they would get, without a session being opened for them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from playdeck import audit
from playdeck.auth import credentials
from playdeck.auth.permissions import Action
from playdeck.auth.sso import client_secret, mapping, oidc, rules
from playdeck.auth.sso.id_token import InvalidIdToken
from playdeck.auth.sso.provider import ProviderMisconfigured, ProviderUnavailable
from playdeck.db import session_scope
from playdeck.errors import Conflict, PlaydeckError
from playdeck.settings import get_settings
from webui import access, auth_pages, authorize
from webui.origin import require_same_origin

bp = Blueprint("sso_pages", __name__)
BROWSER_COOKIE = "playdeck_oidc"
REFUSALS = (InvalidIdToken, ProviderUnavailable, ProviderMisconfigured, mapping.SignInRefused, Conflict)


def _refused(error: PlaydeckError) -> tuple[str, int]:
    settings = get_settings()
    unavailable = isinstance(error, ProviderUnavailable | ProviderMisconfigured)
    page = render_template("sso_refused.html", message=error.message, unavailable=unavailable,
                           no_access=isinstance(error, mapping.NoMatchingGroup),
                           sso=settings.oidc_display_name)  # fmt: skip
    return page, error.status_code


def _to_provider(begun: oidc.Begun) -> Response:
    response = redirect(begun.url, 303)
    # SameSite=Lax: the provider's redirect back is a top-level GET from another site, which Lax lets through.
    response.set_cookie(
        BROWSER_COOKIE, begun.browser_secret, max_age=int(oidc.LOGIN_LIFETIME.total_seconds()), httponly=True,
        samesite="Lax", path="/login/oidc", secure=request.is_secure or get_settings().secure_cookies,
    )  # fmt: skip
    return response


def _begin(next_url: str, test_by: str = "") -> Response | tuple[str, int]:
    with session_scope() as session:
        try:
            begun = oidc.begin(session, next_url, test_by=test_by)
        except oidc.NotConfigured as exc:
            return _refused(exc)
        except (ProviderUnavailable, ProviderMisconfigured) as exc:
            session.rollback()
            oidc.audit_refusal(session, exc)
            session.commit()
            return _refused(exc)
    return _to_provider(begun)


@bp.get("/login/oidc")
@access.public
def begin_login() -> Response | tuple[str, int]:
    return _begin(access.safe_next(request.args.get("next")))


@bp.get("/login/oidc/callback")
@access.public
def callback() -> Response | tuple[str, int]:
    with session_scope() as session:
        try:
            if request.args.get("error"):
                said = request.args.get("error_description") or request.args["error"]
                raise InvalidIdToken("provider_error", f"the provider refused the login: {said[:300]}")
            finished = oidc.finish(session, request.args.get("state"), request.args.get("code"),
                                   request.cookies.get(BROWSER_COOKIE))  # fmt: skip
            if finished.test_by:
                return _test_result(session, finished)
            user = mapping.sign_in_external(session, finished.identity)
            token = credentials.open_session(session, user.id, request.remote_addr or "")
        except REFUSALS as exc:
            if not isinstance(exc, mapping.SignInRefused):  # the mapping audited it already
                oidc.audit_refusal(session, exc, request.args.get("state", "")[:16])
            session.commit()  # the refusal's audit, and the used state gone for good
            return _refused(exc)
    response = redirect(finished.next_url, 303)
    auth_pages.set_session_cookie(response, token)
    response.delete_cookie(BROWSER_COOKIE, path="/login/oidc")
    return response


def _test_result(session: Any, finished: oidc.Finished) -> tuple[str, int]:
    """What the test user would get; nothing is created, granted or opened."""
    identity = finished.identity
    try:
        mapping.check_identity(identity)
        access_given = rules.resolve(rules.list_rules(session), identity.source, identity.groups)
        problem = None if access_given else "none of these groups matches a rule: this user would get no access"
    except mapping.SignInRefused as exc:
        access_given, problem = None, exc.message
    role = access_given.role.value if access_given else None
    with audit.acting_as(finished.test_by, request.remote_addr or ""):
        details = {"role": role, "groups": list(identity.groups[:50])}
        audit.record(session, "sso.test", "oidc", identity.user_name, details)
    page = render_template("sso_test.html", claims=finished.claims, identity=identity, access=access_given,
                           problem=problem)  # fmt: skip
    return page, 200


@bp.get("/admin/sso")
@access.rule(Action.ADMIN)
def admin_page() -> str:
    settings = get_settings()
    with session_scope() as session:
        listed = [rules.describe(rule) for rule in rules.list_rules(session)]
        secret_source = client_secret.describe(session, settings)["source"]
    return render_template("admin_sso.html", settings=settings, enabled=oidc.enabled(settings), rules=listed,
                           redirect_uri=oidc.redirect_uri(settings), client_secret_source=secret_source)  # fmt: skip


@bp.post("/admin/sso/test")
@access.rule(Action.ADMIN)
def test_login() -> Response | tuple[str, int]:
    require_same_origin("single sign-on can only be tested from Playdeck's own pages")
    return _begin(url_for("sso_pages.admin_page"), test_by=authorize.actor())
