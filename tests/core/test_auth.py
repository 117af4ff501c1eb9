"""Accounts and credentials as the services keep them: passwords hashed, tokens and sessions stored only as
hashes and refused once expired, revoked or their user deactivated, failed logins throttled, grants and
roles read into the caller's Principal. (Routes: tests/webui/test_access.py, test_csrf_login.py.)"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select, update

from playdeck import db
from playdeck.auth import credentials, throttle, users
from playdeck.auth.models import ApiToken, LoginFailure, LoginSession, User
from playdeck.auth.permissions import Action, Role, allows, require_cancel, require_deploy, require_zone_editor
from playdeck.dns import editors
from playdeck.errors import Conflict, Forbidden, TooManyAttempts, Unauthenticated, ValidationError
from playdeck.models import Project, utcnow

PASSWORD = "correct horse battery"


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def add_user(name: str = "erin", role: str = "developer", password: str | None = PASSWORD) -> None:
    with db.session_scope() as session:
        users.create_user(session, name, role, password)


def log_in(name: str = "erin", password: str = PASSWORD, address: str = "192.0.2.7") -> credentials.Login:
    with db.session_scope() as session:
        try:
            return credentials.log_in(session, name, password, address)
        except Unauthenticated:
            session.commit()  # as the login page does: the failure counts
            raise


def session_user(token: str):
    with db.session_scope() as session:
        return credentials.session_principal(session, token)


def token_user(token: str):
    with db.session_scope() as session:
        return credentials.token_principal(session, token)


def test_a_password_is_stored_hashed_and_checked(services):
    add_user()
    with db.session_scope() as session:
        stored = session.scalar(select(User.password_hash).where(User.name == "erin"))
    assert PASSWORD not in stored and stored.startswith("scrypt:")
    login = log_in()
    assert (login.principal.name, login.principal.role) == ("erin", Role.DEVELOPER)
    assert session_user(login.session_token).name == "erin"
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        log_in(password="wrong horse battery")
    with pytest.raises(Unauthenticated, match="wrong user name or password"):  # same words: no user probing
        log_in(name="nobody")


@pytest.mark.parametrize(
    ("name", "role", "password", "field"),
    [
        ("", "viewer", PASSWORD, "name"),
        ("a b", "viewer", PASSWORD, "name"),
        ("x" * 101, "viewer", PASSWORD, "name"),
        ("bob\n", "viewer", PASSWORD, "name"),
        ("bob", "root", PASSWORD, "role"),
        ("bob", "viewer", "short", "password"),
        ("bob", "viewer", "a\nb" * 6, "password"),
    ],
)
def test_bad_accounts_are_refused(embedded, name, role, password, field):
    with pytest.raises(ValidationError) as refused, db.session_scope() as session:
        users.create_user(session, name, role, password)
    assert refused.value.field == field


def test_a_name_is_taken_once(embedded):
    add_user()
    with pytest.raises(Conflict):
        add_user(role="admin")


def test_logout_and_a_new_password_end_sessions(services):
    add_user()
    first, second = log_in(), log_in()
    with db.session_scope() as session:
        credentials.log_out(session, first.session_token)
    assert session_user(first.session_token) is None and session_user(second.session_token) is not None
    with db.session_scope() as session:
        users.set_password(session, users.get_user(session, "erin"), "a new and long password")
    assert session_user(second.session_token) is None
    with pytest.raises(Unauthenticated):
        log_in()
    assert log_in(password="a new and long password").principal.name == "erin"


def test_an_expired_session_or_deactivated_user_is_refused(services):
    add_user()
    login = log_in()
    with db.session_scope() as session:
        session.execute(update(LoginSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert session_user(login.session_token) is None
    login = log_in()
    with db.session_scope() as session:
        users.set_active(session, users.get_user(session, "erin"), False)
    assert session_user(login.session_token) is None
    with pytest.raises(Unauthenticated):
        log_in()


def test_tokens_are_shown_once_stored_hashed_and_refused_when_expired_or_revoked(services):
    add_user(password=None)
    with db.session_scope() as session:
        issued = credentials.create_token(session, "erin", name="ci")
        later = credentials.create_token(session, "erin", expires_at=utcnow() + dt.timedelta(days=1))
    with db.session_scope() as session:
        hashes = set(session.scalars(select(ApiToken.token_hash)))
    assert issued.token.startswith("pdt_") and issued.token not in hashes
    assert token_user(issued.token).name == "erin" and token_user("pdt_guessed") is None
    with db.session_scope() as session:
        assert session.get(ApiToken, issued.id).last_used_at is not None
        credentials.revoke_token(session, issued.id)
    assert token_user(issued.token) is None
    assert token_user(later.token) is not None
    with db.session_scope() as session:
        session.execute(update(ApiToken).where(ApiToken.id == later.id).values(expires_at=utcnow()))
    assert token_user(later.token) is None
    with pytest.raises(ValidationError), db.session_scope() as session:
        credentials.create_token(session, "erin", expires_at=utcnow() - dt.timedelta(days=1))


def test_repeated_failures_slow_the_next_attempt_down(services):
    add_user()
    assert [throttle.delay_after(n) for n in (0, 2, 3, 4, 5, 20)] == [0, 0, 2, 4, 8, throttle.MAX_DELAY]
    for _ in range(throttle.FREE_FAILURES):
        with pytest.raises(Unauthenticated):
            log_in(password="wrong password!!")
    with pytest.raises(TooManyAttempts) as refused:  # even the right password waits, from that address
        log_in()
    assert 1 <= refused.value.retry_after <= 2
    with db.session_scope() as session:  # the wait passes
        session.execute(update(LoginFailure).values(failed_at=utcnow() - dt.timedelta(seconds=3)))
    assert log_in().principal.name == "erin"
    with db.session_scope() as session:  # a success forgets the failures of its name and address
        assert session.scalar(select(LoginFailure.id).where(LoginFailure.name == "erin")) is None


def test_one_address_guessing_a_name_locks_out_neither_its_neighbours_nor_the_user_elsewhere(services):
    add_user()
    add_user("frank")
    attacker = "203.0.113.66"
    for _ in range(throttle.FREE_FAILURES):
        with pytest.raises(Unauthenticated):
            log_in(password="wrong password!!", address=attacker)
    with db.session_scope() as session:  # more of them: a wait of a minute, not 2 s a busy machine outlasts
        for _ in range(5):
            throttle.record_failure(session, "erin", attacker)
    with pytest.raises(TooManyAttempts):
        log_in(address=attacker)
    # frank behind the same proxy or NAT, and erin from her own address, log in as usual.
    assert log_in("frank", address=attacker).principal.name == "frank"
    assert log_in(address="198.51.100.1").principal.name == "erin"
    # Her success did not wipe the attacker's record: that address still waits.
    with pytest.raises(TooManyAttempts):
        log_in(address=attacker)


def test_guessing_a_name_from_many_addresses_stays_slow_except_from_the_users_own(services):
    add_user()
    assert log_in(address="198.51.100.1").principal.name == "erin"  # her usual address
    for number in range(throttle.NAME_FREE_FAILURES):  # a botnet: one guess per address
        with pytest.raises(Unauthenticated):
            log_in(password="wrong password!!", address=f"203.0.113.{number}")
    with db.session_scope() as session:  # more of them: a wait of minutes, not 2 s a busy machine outlasts
        for number in range(5):
            throttle.record_failure(session, "erin", f"192.0.2.{number}")
    with pytest.raises(TooManyAttempts):  # the next new address waits, even with the right password
        log_in(address="203.0.113.250")
    with pytest.raises(TooManyAttempts):
        log_in(password="wrong password!!", address="203.0.113.251")
    assert log_in(address="198.51.100.1").principal.name == "erin"


def test_a_fresh_install_gets_one_admin(embedded):
    with db.session_scope() as session:  # the tests' own admin (tests/conftest.py configure) goes first
        session.execute(delete(User))
    with db.session_scope() as session:
        password = users.ensure_admin(session)
    assert password and log_in("admin", password).principal.role == Role.ADMIN
    with db.session_scope() as session:
        assert users.ensure_admin(session) is None


def test_roles_and_grants_decide_what_a_principal_may_do(embedded):
    add_user("dev", "developer", None)
    add_user("rm", "release_manager", None)
    add_user("dns", "viewer", None)
    with db.session_scope() as session:
        users.grant_project(session, users.get_user(session, "dev"), "sampleapp")
        editors.grant_zone(session, users.get_user(session, "dns"), "Example.Test")
        with pytest.raises(Exception, match="does not exist"):
            users.grant_project(session, users.get_user(session, "dev"), "nosuch")
    with db.session_scope() as session:
        dev, rm, dns = (users.principal(users.get_user(session, name)) for name in ("dev", "rm", "dns"))
        sample = session.scalar(select(Project.id).where(Project.name == "sampleapp"))
    assert not allows(dns, Action.DEPLOY) and allows(dev, Action.DEPLOY) and not allows(dev, Action.RELAUNCH)
    require_deploy(dev, sample, "sampleapp", "staging", protected=False)
    with pytest.raises(Forbidden, match="protected"):
        require_deploy(dev, sample, "sampleapp", "production", protected=True)
    with pytest.raises(Forbidden, match="not a member"):
        require_deploy(dev, sample + 1, "other", "staging", protected=False)
    require_deploy(rm, sample + 1, "other", "production", protected=True)
    require_cancel(dev, "dev")
    with pytest.raises(Forbidden):
        require_cancel(dev, "someone else")
    require_cancel(rm, "someone else")
    require_zone_editor(dns, "example.test.")
    with pytest.raises(Forbidden):
        require_zone_editor(dns, "other.test.")
    with pytest.raises(Forbidden):
        require_zone_editor(rm, "example.test.")
