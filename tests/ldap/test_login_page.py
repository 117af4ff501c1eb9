"""The login form with the company directory (a real slapd) configured: a directory person logs in and gets
what their groups map to; refusals are clear pages, audited; the throttle counts directory failures too; and
the local break-glass admin logs in while the directory is down or hung."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from sqlalchemy import select

from playdeck import db
from playdeck.auth import credentials, throttle, users
from playdeck.auth.sso import rules
from playdeck.models import AuditEvent
from testing.ldap_server import group_dn
from tests.conftest import free_port, make_user
from tests.ldap.conftest import use_directory
from tests.webui.test_csrf_login import log_in
from webui import access, create_app

ADMIN_PASSWORD = "break glass, in case of fire"


def _app(monkeypatch: pytest.MonkeyPatch, slapd, **overrides: str) -> Flask:
    use_directory(monkeypatch, slapd, **overrides)
    return create_app({"TESTING": True})


@pytest.fixture
def app(embedded, slapd, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The directory configured; deployers get developer on sampleapp, sre release_manager; a local admin."""
    with db.session_scope() as session:
        rules.create_rule(session, {"source": "ldap", "group": group_dn("deployers"), "role": "developer",
                                    "projects": ["sampleapp"]})  # fmt: skip
        rules.create_rule(session, {"source": "ldap", "group": group_dn("sre"), "role": "release_manager"})
    make_user("root", "admin", password=ADMIN_PASSWORD)
    return _app(monkeypatch, slapd)


def user(name: str) -> dict:
    with db.session_scope() as session:
        return users.describe_one(session, users.get_user(session, name))


def audited(action: str) -> list[AuditEvent]:
    with db.session_scope() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        session.expunge_all()
        return events


def test_a_directory_person_logs_in_and_gets_what_their_group_maps_to(app):
    client = app.test_client()

    response = log_in(client, "alice", "alice-pw")

    assert response.status_code == 302 and client.get_cookie(access.SESSION_COOKIE) is not None
    assert client.get("/").status_code == 200
    alice = user("alice")
    assert alice["role"] == "developer" and alice["projects"] == ["sampleapp"]
    (success,) = audited("login.success")
    assert success.target == "alice" and '"source": "ldap"' in success.details_json


def test_a_nested_group_counts(app):
    assert log_in(app.test_client(), "bob", "bob-pw").status_code == 302
    # bob is in oncall, which is in sre.
    assert user("bob")["role"] == "release_manager"


def test_a_person_whose_groups_map_to_nothing_gets_a_clear_page_and_no_access(app):
    client = app.test_client()

    response = log_in(client, "carol", "carol-pw")

    assert response.status_code == 403
    assert "none of your groups gives access" in response.get_data(as_text=True)
    assert client.get_cookie(access.SESSION_COOKIE) is None
    assert audited("sso.refused")[0].target == "carol"


@pytest.mark.parametrize("name", ["alice", "*)(uid=*", "*", "mallory"])
def test_a_wrong_password_or_a_name_nobody_has_is_refused_and_counted(app, name):
    for _ in range(throttle.FREE_FAILURES):
        response = log_in(app.test_client(), name, "not the password")
        assert response.status_code == 401 and "wrong user name or password" in response.get_data(as_text=True)
    # The throttle counted them: even the right password waits now.
    assert log_in(app.test_client(), name, "alice-pw").status_code == 429
    assert len(audited("login.failure")) == throttle.FREE_FAILURES


def test_an_empty_password_logs_nobody_in(app):
    # The form says "required"; a hand-made post does not have to. The test slapd would take it as an
    # anonymous bind and say "success".
    client = app.test_client()

    assert log_in(client, "alice", "").status_code == 401
    assert client.get_cookie(access.SESSION_COOKIE) is None


def test_the_directory_down_is_a_clear_page_and_the_local_admin_still_logs_in(embedded, slapd, monkeypatch):
    make_user("root", "admin", password=ADMIN_PASSWORD)
    app = _app(monkeypatch, slapd, URL=f"ldaps://127.0.0.1:{free_port()}")

    response = log_in(app.test_client(), "alice", "alice-pw")

    assert response.status_code == 503
    assert "local accounts can still log in" in response.get_data(as_text=True)
    assert '"reason"' in audited("login.refused")[0].details_json
    assert log_in(app.test_client(), "root", ADMIN_PASSWORD).status_code == 302


def test_a_hung_directory_costs_a_directory_login_its_timeout_and_a_local_login_nothing(
    embedded, slapd, monkeypatch, silent_port
):
    make_user("root", "admin", password=ADMIN_PASSWORD)
    app = _app(monkeypatch, slapd, URL=f"ldaps://127.0.0.1:{silent_port}", RECEIVE_TIMEOUT_SECONDS="1")

    started = time.monotonic()
    assert log_in(app.test_client(), "alice", "alice-pw").status_code == 503
    assert time.monotonic() - started < 10
    assert log_in(app.test_client(), "root", ADMIN_PASSWORD).status_code == 302


def test_a_local_account_is_checked_locally_even_if_the_directory_has_the_name(app):
    make_user("alice", "viewer", password=ADMIN_PASSWORD)

    assert log_in(app.test_client(), "alice", "alice-pw").status_code == 401
    assert log_in(app.test_client(), "alice", ADMIN_PASSWORD).status_code == 302
    assert user("alice")["role"] == "viewer"


def test_with_local_logins_off_directory_people_still_log_in_and_only_break_glass_locals_do(
    embedded, slapd, monkeypatch
):
    with db.session_scope() as session:
        rules.create_rule(session, {"source": "ldap", "group": group_dn("deployers"), "role": "developer"})
    make_user("root", "admin", password=ADMIN_PASSWORD)
    make_user("erin", "developer", password=ADMIN_PASSWORD)
    monkeypatch.setenv("PLAYDECK_LOCAL_LOGINS", "0")
    monkeypatch.setenv("PLAYDECK_BREAK_GLASS_USERS", "root")
    app = _app(monkeypatch, slapd)

    assert log_in(app.test_client(), "alice", "alice-pw").status_code == 302
    assert log_in(app.test_client(), "erin", ADMIN_PASSWORD).status_code == 403
    assert log_in(app.test_client(), "root", ADMIN_PASSWORD).status_code == 302


def test_a_directory_refusal_takes_as_long_as_a_local_one(app, monkeypatch):
    # A local account's wrong password costs a password hash check; a directory refusal answered in a few ms
    # would tell which names are local accounts (the break-glass admins). Both spend exactly one check.
    checks = []
    real = credentials.check_password_hash
    monkeypatch.setattr(credentials, "check_password_hash", lambda *args: checks.append(args) or real(*args))
    for name in ("root", "alice", "mallory"):
        checks.clear()
        assert log_in(app.test_client(), name, "not the password").status_code == 401
        assert len(checks) == 1, name
