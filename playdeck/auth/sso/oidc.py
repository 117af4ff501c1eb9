"""OpenID Connect login, authorization code flow with PKCE (S256).

``begin`` records a login under way (``OidcLogin``: the hash of its ``state``, its ``nonce``, its PKCE verifier,
the hash of a random value the browser keeps in a cookie) and gives the provider URL to send the browser to.
``finish`` takes the provider's answer: the state is found and deleted in one conditional statement (used once,
even by two racing requests), must come from the browser that began it and in time; then the code is exchanged
(with the verifier) and the ID token checked (``id_token``). The caller signs the identity in
(``mapping.sign_in_external``) or, for an admin's test, only shows what it would get.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from playdeck import audit
from playdeck.auth.sso import client_secret, id_token
from playdeck.auth.sso import provider as provider_module
from playdeck.auth.sso.identity import ExternalIdentity
from playdeck.auth.sso.models import OidcLogin
from playdeck.auth.sso.provider import Provider, ProviderMisconfigured, get_json, provider, reaching, tls_verify
from playdeck.errors import NotFound, PlaydeckError
from playdeck.models import utcnow
from playdeck.settings import Settings, get_settings

SOURCE = "oidc"
# How long a person may take at the provider's login page.
LOGIN_LIFETIME = dt.timedelta(minutes=10)
CALLBACK_PATH = "/login/oidc/callback"


class NotConfigured(NotFound):
    reason = "not_configured"


class LoginNotValid(id_token.InvalidIdToken):
    """The answer matches no login under way from this browser (replayed, forged, expired state)."""


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def enabled(settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def redirect_uri(settings: Settings) -> str:
    return settings.base_url + CALLBACK_PATH


def _client(settings: Settings, secret: str = "", **values: Any) -> OAuth2Session:
    """A client of the provider; ``secret`` only where the client authenticates (the code exchange)."""
    return OAuth2Session(
        settings.oidc_client_id, secret or None, scope=" ".join(settings.oidc_scopes),
        redirect_uri=redirect_uri(settings), code_challenge_method="S256", **values,
    )  # fmt: skip


@dataclass(frozen=True)
class Begun:
    url: str  # where to send the browser
    browser_secret: str  # for the browser's cookie


def begin(session: Session, next_url: str, *, test_by: str = "") -> Begun:
    """A login under way; ``test_by``: an admin testing the configuration (no session is opened at the end)."""
    settings = get_settings()
    if not enabled(settings):
        raise NotConfigured("single sign-on is not configured (PLAYDECK_OIDC_ISSUER, PLAYDECK_OIDC_CLIENT_ID)")
    metadata = provider(settings).metadata(max_age=provider_module.RECHECK_AFTER)
    if metadata.code_challenge_methods and "S256" not in metadata.code_challenge_methods:
        raise ProviderMisconfigured("the provider does not offer PKCE with S256")
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    browser_secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(OidcLogin).where(OidcLogin.expires_at < now))
    session.add(OidcLogin(state_hash=_hash(state), browser_hash=_hash(browser_secret), nonce=nonce,
                          code_verifier=verifier, next_url=next_url[:1000], test_by=test_by, created_at=now,
                          expires_at=now + LOGIN_LIFETIME))  # fmt: skip
    url, _ = _client(settings).create_authorization_url(
        metadata.authorization_endpoint, state=state, nonce=nonce, code_verifier=verifier
    )
    return Begun(url, browser_secret)


def _take_login(session: Session, state: str, browser_secret: str | None) -> OidcLogin:
    """The login ``state`` answers, removed for good whatever follows."""
    login = session.scalar(select(OidcLogin).where(OidcLogin.state_hash == _hash(state)))
    if login is None or not session.execute(delete(OidcLogin).where(OidcLogin.id == login.id)).rowcount:
        raise LoginNotValid("state", "this login was already used or never begun here: log in again")
    if not browser_secret or not hmac.compare_digest(login.browser_hash, _hash(browser_secret)):
        raise LoginNotValid("browser", "this login was begun in another browser: log in again")
    if login.expires_at < utcnow():
        raise LoginNotValid("state_expired", "this login took too long: log in again")
    return login


def _exchange(settings: Settings, found: Provider, code: str, verifier: str, secret: str) -> dict[str, Any]:
    client = _client(settings, secret)
    client.verify = tls_verify(settings)
    endpoint = found.metadata().token_endpoint
    try:
        with reaching(settings, endpoint):
            return dict(client.fetch_token(endpoint, code=code, code_verifier=verifier,
                                           timeout=settings.oidc_timeout_seconds))  # fmt: skip
    except (AuthlibBaseError, ValueError) as exc:
        # invalid_client: our client id or secret is wrong, which no new login by the person mends.
        if getattr(exc, "error", "") == "invalid_client":
            raise ProviderMisconfigured("the provider does not accept Playdeck's client id and secret") from None
        raise id_token.InvalidIdToken("code", f"the provider refused the login code ({exc})") from None
    finally:
        client.close()


@dataclass(frozen=True)
class Finished:
    claims: dict[str, Any]
    identity: ExternalIdentity
    next_url: str
    test_by: str


def finish(session: Session, state: object, code: object, browser_secret: str | None) -> Finished:
    """The verified identity of the provider's answer. Raises ``InvalidIdToken`` (and its ``LoginNotValid``),
    ``ProviderUnavailable``, ``ProviderMisconfigured``; the used state is deleted in the caller's transaction."""
    if not isinstance(state, str) or not state or not isinstance(code, str) or not code:
        raise LoginNotValid("missing", "the provider's answer has no state or code: log in again")
    login = _take_login(session, state, browser_secret)
    settings = get_settings()
    found = provider(settings)
    token = _exchange(settings, found, code, login.code_verifier, client_secret.client_secret(session, settings))
    claims = _with_userinfo(settings, found, token, id_token.verify(found, token.get("id_token"), login.nonce))
    return Finished(claims, identity_of(settings, claims), login.next_url, login.test_by)


def _with_userinfo(settings: Settings, found: Provider, token: dict[str, Any], claims: dict[str, Any]) -> dict:
    """The ID token's claims, completed from the userinfo endpoint when they lack the groups or the user name
    (Keycloak, Authentik and others put groups there only). The ID token's own claims win; userinfo about another
    ``sub`` than the ID token's is refused (it is not this login's person)."""
    if settings.oidc_groups_claim in claims and _text(claims, settings.oidc_user_name_claim):
        return claims
    endpoint, access_token = found.metadata().userinfo_endpoint, token.get("access_token")
    if not endpoint or not isinstance(access_token, str) or not access_token:
        return claims
    info = get_json(settings, endpoint, headers={"Authorization": f"Bearer {access_token}"})
    if not isinstance(info.get("sub"), str) or info["sub"] != claims.get("sub"):
        raise id_token.InvalidIdToken(
            "userinfo_subject", "the provider's userinfo is about another account than its ID token: log in again"
        )
    return {**info, **claims}


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    return value if isinstance(value, str) else ""


def identity_of(settings: Settings, claims: dict[str, Any]) -> ExternalIdentity:
    """The identity in verified ``claims``; a missing groups claim is no groups (no access), a groups claim that
    is not a list of names is refused."""
    groups = claims.get(settings.oidc_groups_claim, [])
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
        claim = settings.oidc_groups_claim
        raise id_token.InvalidIdToken("groups", f"the ID token's {claim!r} claim is not a list of names")
    user_name = _text(claims, settings.oidc_user_name_claim)
    if not user_name:
        raise id_token.InvalidIdToken("user_name", f"the ID token has no {settings.oidc_user_name_claim!r} claim")
    return ExternalIdentity(
        source=SOURCE, subject=_text(claims, "sub"), user_name=user_name, email=_text(claims, "email"),
        display_name=_text(claims, "name") or user_name, groups=tuple(groups),
    )  # fmt: skip


def audit_refusal(session: Session, error: PlaydeckError, detail: str = "") -> None:
    """A login that failed before an identity was known (the mapping audits its own refusals)."""
    reason = getattr(error, "reason", type(error).__name__)
    with audit.acting_as("-", audit.current_actor().address):
        audit.record(session, "sso.refused", "oidc", get_settings().oidc_issuer or "-",
                     {"reason": reason, "message": error.message, "detail": detail[:200]})  # fmt: skip
