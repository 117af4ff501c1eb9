"""Logging in with OpenID Connect in a real browser: Chromium goes from Playdeck's login page to the provider's own
login page (``testing.oidc_provider``, Authlib's server), signs in there, and comes back signed in to the real web
(gunicorn, MariaDB) with the role its groups give; a user with no mapped group lands on a page saying so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from playdeck import db
from playdeck.auth.sso import rules
from testing.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.browser.conftest import TIMEOUT_MS
from tests.cli.conftest import serve_web

PASSWORD = "provider password 1"


@pytest.fixture
def sso_web(production, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[str]:
    provider = OidcProvider("set below").start()
    provider.add_account("dana", PASSWORD, ["cn=deployers,ou=groups"])
    provider.add_account("nora", PASSWORD, ["visitors"])
    settings = {"OIDC_ISSUER": provider.issuer, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_DISPLAY_NAME": "Test IdP",
                "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_SCOPES": "openid profile email groups"}  # fmt: skip
    for name, value in settings.items():
        monkeypatch.setenv(f"PLAYDECK_{name}", value)
    with db.session_scope() as session:
        rules.create_rule(session, {"group": "CN=Deployers,OU=Groups", "role": "developer", "projects": ["sampleapp"]})
    web = serve_web(monkeypatch, tmp_path)
    url = next(web)
    provider.client.redirect_uri = f"{url}/login/oidc/callback"
    try:
        yield url
    finally:
        web.close()
        provider.stop()


def _provider_login(browser, url: str, user: str):
    context = browser.new_context(base_url=url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/login")
    page.get_by_role("link", name="Log in with Test IdP").click()
    page.get_by_role("heading", name="Test Identity Provider: sign in").wait_for()
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return context, page


def test_a_person_logs_in_through_the_providers_page(browser, sso_web):
    context, page = _provider_login(browser, sso_web, "dana")
    page.wait_for_url(f"{sso_web}/")
    assert page.locator(".user").inner_text() == "dana (developer)"
    context.close()
    context, page = _provider_login(browser, sso_web, "nora")
    page.get_by_role("heading", name="No access to Playdeck").wait_for()
    assert "none of your groups gives access" in page.get_by_role("alert").inner_text()
    assert not any(cookie["name"] == "playdeck_session" for cookie in context.cookies())
    context.close()
