"""OpenID Connect login against a real provider (Authlib's server, its own login page): a user in a mapped group
is created and signed in; the login is single use and bound to the browser that began it; the provider's keys
are cached and fetched again when it rotates them."""

from __future__ import annotations

from sqlalchemy import select

from playdeck import db
from playdeck.auth import credentials
from playdeck.auth.sso import rules
from playdeck.models import AuditEvent
from testing.oidc_provider import Behaviour
from tests.sso.conftest import at_provider, begin, come_back, log_in
from webui import create_app


def add_rule(**fields) -> None:
    with db.session_scope() as session:
        rules.create_rule(session, fields)


def audit_actions(prefix: str = "sso.") -> list[str]:
    with db.session_scope() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith(prefix))))


def test_a_user_in_a_mapped_group_logs_in_and_gets_the_mapped_role(embedded, provider):
    add_rule(group="deployers", role="developer", projects=["sampleapp"])
    add_rule(group="sre", role="release_manager")
    client = create_app({"TESTING": True}).test_client()
    login_page = client.get("/login")
    assert "Log in with Test IdP" in login_page.text
    answer = log_in(client, "sam")
    assert (answer.status, answer.location) == (303, "/"), answer.text
    with db.session_scope() as session:
        who = credentials.session_principal(session, answer.session_cookie)
    assert (who.name, who.role.value) == ("sam", "release_manager")
    assert client.get("/api/v1/runs").status_code == 200  # the session works
    assert audit_actions().count("sso.login") == 1


def test_groups_only_at_the_userinfo_endpoint_are_fetched_with_the_access_token(embedded, provider):
    add_rule(group="sre", role="release_manager")
    provider.behaviour = Behaviour(groups_only_in_userinfo=True)  # Keycloak, Authentik: not in the ID token
    answer = log_in(create_app({"TESTING": True}).test_client(), "sam")
    assert answer.status == 303, answer.text
    with db.session_scope() as session:
        who = credentials.session_principal(session, answer.session_cookie)
    assert (who.name, who.role.value) == ("sam", "release_manager")


def test_the_state_is_single_use_and_bound_to_the_browser(embedded, provider):
    add_rule(group="deployers", role="developer")
    client = create_app({"TESTING": True}).test_client()
    back = at_provider(begin(client), "dana")
    # Another browser brings the answer: refused (and the state is spent).
    stranger = create_app({"TESTING": True}).test_client()
    refused = come_back(stranger, back)
    assert refused.status == 401 and "begun in another browser" in refused.text and refused.session_cookie is None
    again = come_back(client, back)
    assert again.status == 401 and "already used or never begun here" in again.text
    # A good login, then its answer replayed: refused.
    back = at_provider(begin(client), "dana")
    assert come_back(client, back).status == 303
    client.delete_cookie("playdeck_session")
    replayed = come_back(client, back)
    assert replayed.status == 401 and "already used" in replayed.text and replayed.session_cookie is None
    assert audit_actions().count("sso.refused") == 3


def test_keys_are_cached_and_fetched_again_when_the_provider_rotates_them(embedded, provider):
    add_rule(group="deployers", role="developer")
    client = create_app({"TESTING": True}).test_client()
    assert log_in(client, "dana").status == 303
    provider.rotate_key("key-2")
    client = create_app({"TESTING": True}).test_client()
    answer = log_in(client, "dana")
    assert answer.status == 303, answer.text


def test_a_login_left_too_long_at_the_provider_is_refused(embedded, provider):
    from sqlalchemy import update

    from playdeck.auth.sso.models import OidcLogin
    from playdeck.models import utcnow

    add_rule(group="deployers", role="developer")
    client = create_app({"TESTING": True}).test_client()
    back = at_provider(begin(client), "dana")
    with db.session_scope() as session:
        session.execute(update(OidcLogin).values(expires_at=utcnow()))
    answer = come_back(client, back)
    assert answer.status == 401 and "took too long" in answer.text and answer.session_cookie is None
