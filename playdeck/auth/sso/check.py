"""``playdeck sso check``: is the OpenID Connect configuration usable? Each finding is a line a person can act on:
the settings, the provider's discovery document and keys reached with them, and the group rules."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from playdeck.auth.sso import client_secret, oidc, rules
from playdeck.auth.sso.provider import Provider, ProviderMisconfigured, ProviderUnavailable, check_url
from playdeck.settings import Settings


@dataclass(frozen=True)
class Finding:
    ok: bool
    message: str


def _settings_findings(settings: Settings) -> list[Finding]:
    found = [
        Finding(bool(settings.oidc_client_id), "client id set" if settings.oidc_client_id
                else "PLAYDECK_OIDC_CLIENT_ID is not set"),
        Finding("openid" in settings.oidc_scopes, f"scopes: {' '.join(settings.oidc_scopes)}"
                + ("" if "openid" in settings.oidc_scopes else " (openid is missing)")),
        Finding(True, f"register this redirect URI at the provider: {oidc.redirect_uri(settings)}"),
    ]  # fmt: skip
    if not settings.local_logins and not settings.break_glass_users:
        found.append(Finding(False, "password logins are off and no break-glass user is named: "
                                    "nobody can log in while the provider is down"))  # fmt: skip
    return found


def _provider_findings(settings: Settings) -> list[Finding]:
    try:
        check_url("PLAYDECK_OIDC_ISSUER", settings.oidc_issuer)
        provider = Provider(settings)  # a fresh one: nothing cached
        metadata = provider.metadata()
        found = [Finding(True, f"discovery: {metadata.issuer} (authorization {metadata.authorization_endpoint}, "
                               f"token {metadata.token_endpoint})")]  # fmt: skip
        pkce = not metadata.code_challenge_methods or "S256" in metadata.code_challenge_methods
        found.append(Finding(pkce, "PKCE S256 offered" if pkce else "the provider does not offer PKCE with S256"))
        found.append(Finding(True, f"ID token algorithms accepted: {', '.join(metadata.algorithms)}"))
        keys = provider.keys()
        found.append(Finding(bool(keys.keys), f"signing keys fetched: {len(keys.keys)} "
                                              f"({', '.join(str(key.kid) for key in keys.keys)})"))  # fmt: skip
        return found
    except (ProviderUnavailable, ProviderMisconfigured) as exc:
        return [Finding(False, exc.message)]


def check(session: Session, settings: Settings) -> list[Finding]:
    if not settings.oidc_issuer:
        return [Finding(False, "OpenID Connect is off: PLAYDECK_OIDC_ISSUER is not set")]
    source = client_secret.describe(session, settings)["source"]
    found = [
        Finding(
            source != "none",
            f"client secret set (from the {source})"
            if source != "none"
            else "no client secret (PLAYDECK_OIDC_CLIENT_SECRET, its _FILE, or playdeck sso secret set)",
        )
    ]
    found += _settings_findings(settings) + _provider_findings(settings)
    usable = [rule for rule in rules.list_rules(session) if rule.source in ("", oidc.SOURCE)]
    found.append(Finding(bool(usable), f"{len(usable)} group rule(s) apply to OpenID Connect logins" if usable
                         else "no group rule applies to OpenID Connect logins: nobody would get access "
                              "(playdeck sso rule add GROUP --role ROLE)"))  # fmt: skip
    return found
