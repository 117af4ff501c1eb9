"""`playdeck sso check` tells what works and what does not (exit 1 on a problem); an admin's test login shows the
claims and the role a user would get, and opens no session and creates no user."""

from __future__ import annotations

from sqlalchemy import func, select

from playdeck import db
from playdeck.auth.models import User
from playdeck.auth.sso import rules
from testing.oidc_provider import CLIENT_SECRET
from tests.cli.cli_support import playdeck
from tests.conftest import free_port, web_client
from tests.sso.conftest import at_provider, come_back, configure_oidc


def test_sso_check_reports_the_provider_and_the_rules(embedded, provider, monkeypatch):
    checked = playdeck("sso", "check")
    assert checked.returncode == 1  # no rule yet
    assert f"ok: discovery: {provider.issuer}" in checked.stdout
    assert "ok: signing keys fetched: 1 (key-1)" in checked.stdout
    assert "ok: PKCE S256 offered" in checked.stdout
    assert "PROBLEM: no group rule applies" in checked.stdout
    with db.session_scope() as session:
        rules.create_rule(session, {"group": "deployers", "role": "developer", "source": "oidc"})
    assert playdeck("sso", "check").returncode == 0
    monkeypatch.setenv("PLAYDECK_OIDC_ISSUER", f"http://127.0.0.1:{free_port()}")
    down = playdeck("sso", "check")
    assert down.returncode == 1 and "PROBLEM: the identity provider cannot be reached" in down.stdout
    monkeypatch.setenv("PLAYDECK_OIDC_ISSUER", "http://idp.example.test")
    assert "must be an https:// URL" in playdeck("sso", "check").stdout


def test_an_admin_tests_the_configuration_without_signing_anyone_in(embedded, provider, monkeypatch):
    configure_oidc(monkeypatch, provider, OIDC_CLIENT_SECRET=CLIENT_SECRET)
    with db.session_scope() as session:
        rules.create_rule(session, {"group": "sre", "role": "release_manager", "zones": ["example.test"]})
    admin = web_client()
    page = admin.get("/admin/sso")
    assert page.status_code == 200 and provider.issuer in page.text
    assert "http://127.0.0.1:8000/login/oidc/callback" in page.text
    started = admin.post("/admin/sso/test", headers={"Origin": "http://localhost"})
    assert started.status_code == 303, started.text
    answer = come_back(admin, at_provider(started.headers["Location"], "sam"))
    assert answer.status == 200, answer.text
    assert "release manager" in answer.text and "example.test." in answer.text and "preferred_username" in answer.text
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.name == "sam")) == 0
    developer = web_client("dev", "developer")
    assert developer.get("/admin/sso").status_code == 403
    assert developer.post("/admin/sso/test", headers={"Origin": "http://localhost"}).status_code == 403
