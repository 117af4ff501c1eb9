"""The OpenID Connect client secret stored in Playdeck's encrypted store by an admin (API or `playdeck sso secret
set`), never shown back, only its ciphertext in the DB; used for the real provider's code exchange when the
environment gives none, while PLAYDECK_OIDC_CLIENT_SECRET, when set, wins."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import select

from playdeck import db
from playdeck.auth.sso import rules
from playdeck.auth.sso.models import ClientSecret
from playdeck.models import AuditEvent
from testing.oidc_provider import CLIENT_SECRET
from tests.cli.cli_support import playdeck
from tests.conftest import as_user, use_key, web_client
from tests.sso.conftest import configure_oidc, log_in
from webui import create_app


def logs_in(user: str = "dana") -> int:
    return log_in(create_app({"TESTING": True}).test_client(), user).status


def test_an_admin_stores_the_client_secret_through_the_api_and_logins_use_it(embedded, provider, monkeypatch):
    use_key(monkeypatch, Fernet.generate_key().decode())
    configure_oidc(monkeypatch, provider, OIDC_CLIENT_SECRET="")
    with db.session_scope() as session:
        rules.create_rule(session, {"group": "deployers", "role": "developer"})
    assert logs_in() == 503  # no secret anywhere: the provider refuses the client (a configuration fault)
    client = web_client()
    assert client.get("/api/v1/sso/client-secret").json == {"source": "none", "stored": None}
    developer = as_user("dev", "developer")
    put = {"json": {"value": CLIENT_SECRET}}
    assert client.put("/api/v1/sso/client-secret", headers=developer, **put).status_code == 403
    assert client.put("/api/v1/sso/client-secret", json={"value": " padded "}).status_code == 400
    assert client.put("/api/v1/sso/client-secret", json={"secret": "x"}).status_code == 400
    stored = client.put("/api/v1/sso/client-secret", **put)
    assert stored.status_code == 200 and stored.json["source"] == "store" and CLIENT_SECRET not in stored.text
    assert client.get("/api/v1/sso/client-secret", headers=developer).status_code == 403
    with db.session_scope() as session:
        ciphertext = session.scalar(select(ClientSecret.ciphertext))
        audited = session.scalars(select(AuditEvent.details_json).where(AuditEvent.action.startswith("sso.client")))
        assert all(CLIENT_SECRET not in details for details in audited)
    assert CLIENT_SECRET not in ciphertext
    assert logs_in() == 303
    configure_oidc(monkeypatch, provider, OIDC_CLIENT_SECRET="a-wrong-secret")  # the environment wins
    assert client.get("/api/v1/sso/client-secret").json["source"] == "environment"
    assert logs_in() == 503
    assert client.delete("/api/v1/sso/client-secret", headers=developer).status_code == 403
    assert client.delete("/api/v1/sso/client-secret").status_code == 204
    assert client.delete("/api/v1/sso/client-secret").status_code == 404


def test_the_cli_stores_the_secret_from_stdin_and_never_prints_it(embedded, provider, monkeypatch):
    use_key(monkeypatch, Fernet.generate_key().decode())
    configure_oidc(monkeypatch, provider, OIDC_CLIENT_SECRET="")
    with db.session_scope() as session:
        rules.create_rule(session, {"group": "deployers", "role": "developer"})
    stored = playdeck("sso", "secret", "set", input=CLIENT_SECRET + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "stored; it is used" in stored.stdout and CLIENT_SECRET not in stored.stdout + stored.stderr
    shown = playdeck("sso", "secret", "show")
    assert "source: store" in shown.stdout and CLIENT_SECRET not in shown.stdout
    assert logs_in() == 303
    assert playdeck("sso", "secret", "set", input="\n").returncode == 2
    assert playdeck("sso", "secret", "rm").returncode == 0
    assert "source: none" in playdeck("sso", "secret", "show").stdout
    assert logs_in() == 503
