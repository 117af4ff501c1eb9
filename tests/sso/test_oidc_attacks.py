"""What a hostile or broken provider (or a thief of a login's answer) tries, each refused with a clear page,
nothing created or granted, no session opened, and the refusal in the audit log; a password login of a
break-glass admin still works while the provider is down."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.auth import users
from playdeck.auth.models import User
from playdeck.auth.sso import provider as provider_cache
from playdeck.auth.sso import rules
from playdeck.models import AuditEvent
from testing.oidc_provider import Behaviour
from tests.sso.conftest import at_provider, begin, come_back, configure_oidc, log_in
from webui import create_app

PASSWORD = "break glass password"


@pytest.fixture
def mapped(embedded, provider):
    with db.session_scope() as session:
        rules.create_rule(session, {"group": "deployers", "role": "developer"})
    return provider


def refusals() -> list[dict]:
    with db.session_scope() as session:
        found = session.scalars(select(AuditEvent.details_json).where(AuditEvent.action == "sso.refused"))
        return [json.loads(details) for details in found]


def sso_users() -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count()).select_from(User).where(User.name.in_(["dana", "nora"])))


def refused_login(user: str = "dana") -> tuple[int, str]:
    client = create_app({"TESTING": True}).test_client()
    answer = log_in(client, user)
    assert answer.session_cookie is None, "a session was opened"
    return answer.status, answer.text


@pytest.mark.parametrize(
    ("attack", "message", "reason"),
    [
        ("forged_signature", "signature does not verify", "signature"),
        ("expired", "the ID token has expired", "expired"),
        ("wrong_audience", "issued for another client", "audience"),
        ("wrong_issuer", "claim iss is wrong", "issuer"),
        ("alg_none", "signed with &#39;none&#39;", "algorithm"),
        ("future_iat", "issued in the future", "claims"),
    ],
)
def test_a_bad_id_token_is_refused(mapped, attack, message, reason):
    mapped.behaviour = Behaviour(attack=attack)
    status, page = refused_login()
    assert status == 401 and message in page and "Nothing was granted" in page
    assert sso_users() == 0
    assert refusals()[-1]["reason"] == reason


def test_an_id_token_replayed_into_another_login_is_refused_by_its_nonce(mapped):
    client = create_app({"TESTING": True}).test_client()
    assert log_in(client, "dana").status == 303
    mapped.behaviour = Behaviour(attack="replay")  # the provider (or a thief) hands back the first ID token
    status, page = refused_login()
    assert status == 401 and "does not answer this login (nonce)" in page
    assert refusals()[-1]["reason"] == "nonce"


def test_userinfo_about_another_account_or_refusing_the_access_token_is_refused(mapped):
    mapped.behaviour = Behaviour(groups_only_in_userinfo=True, userinfo_subject="sub-sam")
    status, page = refused_login("dana")
    assert status == 401 and "userinfo is about another account" in page
    assert sso_users() == 0
    assert refusals()[-1]["reason"] == "userinfo_subject"
    mapped.behaviour = Behaviour(groups_only_in_userinfo=True, userinfo_refused=True)
    status, page = refused_login("dana")
    assert status == 503 and "answered HTTP 401" in page and "/userinfo" in page
    assert sso_users() == 0


def test_a_missing_or_huge_groups_claim_gives_no_access(mapped):
    status, page = refused_login("nora")  # no groups claim at all
    assert status == 403 and "No access to Playdeck" in page and "none of your groups" in page
    mapped.behaviour = Behaviour(groups_only_in_userinfo=True)  # nor at the userinfo endpoint
    status, page = refused_login("nora")
    assert status == 403 and "No access to Playdeck" in page and "none of your groups" in page
    huge = [f"group-{number}" for number in range(5000)] + ["deployers"]
    for only_in_userinfo in (False, True):
        mapped.behaviour = Behaviour(groups=huge, groups_only_in_userinfo=only_in_userinfo)
        status, page = refused_login()
        assert status == 403 and "more than 1000 groups" in page
    assert sso_users() == 0
    reasons = ["no_matching_group", "no_matching_group", "bad_identity", "bad_identity"]
    assert [event["reason"] for event in refusals()] == reasons


def test_a_provider_that_refuses_or_is_slow_or_down_gets_a_clear_page(mapped, monkeypatch):
    client = create_app({"TESTING": True}).test_client()
    url = begin(client)
    denied = come_back(client, "/login/oidc/callback?error=access_denied&error_description=User+cancelled&state=x")
    assert denied.status == 401 and "the provider refused the login: User cancelled" in denied.text
    mapped.behaviour = Behaviour(token_delay_seconds=4)  # the timeout is 2 s
    slow = come_back(client, at_provider(url, "dana"))
    assert slow.status == 503 and "did not answer within 2 s" in slow.text and "log in with their password" in slow.text
    mapped.behaviour = Behaviour()
    mapped.stop()
    configure_oidc(monkeypatch, mapped)  # nothing cached: discovery itself finds the provider down
    down = create_app({"TESTING": True}).test_client().get("/login/oidc")
    assert down.status_code == 503 and "cannot be reached" in down.text
    reasons = [event["reason"] for event in refusals()]
    assert reasons == ["provider_error", "provider_unavailable", "provider_unavailable"]
    assert sso_users() == 0


def test_a_provider_down_after_its_discovery_was_cached_gets_our_page_not_a_dead_login_page(mapped, monkeypatch):
    assert log_in(create_app({"TESTING": True}).test_client(), "dana").status == 303  # discovery is cached now
    mapped.stop()
    # Our copy of the discovery document is older than the recheck spacing (10 s), as it is a while after a login.
    monkeypatch.setattr(provider_cache, "RECHECK_AFTER", 0.0)
    down = create_app({"TESTING": True}).test_client().get("/login/oidc")
    assert down.status_code == 503 and "cannot be reached" in down.text and "log in with their password" in down.text
    assert [event["reason"] for event in refusals()] == ["provider_unavailable"]


def test_password_logins_off_except_break_glass_which_works_while_the_provider_is_down(mapped, monkeypatch):
    with db.session_scope() as session:
        users.create_user(session, "root-glass", "admin", PASSWORD)
        users.create_user(session, "alice", "developer", PASSWORD)
    monkeypatch.setenv("PLAYDECK_LOCAL_LOGINS", "0")
    monkeypatch.setenv("PLAYDECK_BREAK_GLASS_USERS", "root-glass")
    configure_oidc(monkeypatch, mapped)
    mapped.stop()
    client = create_app({"TESTING": True}).test_client()

    def password_login(name: str):
        form = client.get("/login")
        token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        return client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token, "next": "/"})

    refused = password_login("alice")
    assert refused.status_code == 403 and "password logins are turned off: log in with Test IdP" in refused.text
    assert password_login("root-glass").status_code == 302
