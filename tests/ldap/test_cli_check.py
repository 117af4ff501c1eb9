"""``playdeck ldap check``, run as an administrator runs it (the installed command, the environment's settings)
against a real slapd: who a name is, their groups and what the mapping rules would give them; a directory that
cannot be used is a clear message and exit 1, not a traceback."""

from __future__ import annotations

import pytest

from playdeck import db
from playdeck.auth.sso import rules
from testing.ldap_server import SERVICE_DN, group_dn, user_dn
from tests.cli.cli_support import playdeck
from tests.conftest import free_port
from tests.ldap.conftest import use_directory


@pytest.fixture
def configured(embedded, slapd, monkeypatch: pytest.MonkeyPatch):
    with db.session_scope() as session:
        rules.create_rule(session, {"source": "ldap", "group": group_dn("sre"), "role": "release_manager"})
    use_directory(monkeypatch, slapd)
    return slapd


def test_check_shows_who_a_name_is_their_nested_groups_and_what_they_would_get(configured):
    result = playdeck("ldap", "check", "bob")

    assert result.returncode == 0, result.stderr
    assert f"bound as {SERVICE_DN} over TLS" in result.stdout
    assert f"bob: {user_dn('bob')}\n  linked by entryuuid:" in result.stdout
    assert "Groups (3):" in result.stdout and group_dn("ops") in result.stdout
    assert "Would get: release_manager" in result.stdout


def test_check_says_when_groups_give_no_access(configured):
    result = playdeck("ldap", "check", "carol")

    assert result.returncode == 0 and "Would get: no access" in result.stdout


def test_check_of_a_name_nobody_has_exits_2(configured):
    result = playdeck("ldap", "check", "*)(uid=*")

    assert result.returncode == 2 and "has the login name" in result.stderr


def test_check_without_a_name_tries_the_service_account(configured):
    result = playdeck("ldap", "check")

    assert result.returncode == 0 and "bound as" in result.stdout


def test_check_of_a_directory_that_is_down_says_why(embedded, slapd, monkeypatch):
    use_directory(monkeypatch, slapd, URL=f"ldaps://127.0.0.1:{free_port()}")

    result = playdeck("ldap", "check", "alice")

    assert result.returncode == 1 and "cannot be reached" in result.stderr and "Connection refused" in result.stderr


def test_check_of_an_untrusted_certificate_says_so(embedded, slapd, monkeypatch, other_ca):
    use_directory(monkeypatch, slapd, CA_FILE=str(other_ca))

    result = playdeck("ldap", "check")

    assert result.returncode == 1 and "certificate verify failed" in result.stderr


def test_check_with_nothing_configured_says_what_to_set(embedded):
    result = playdeck("ldap", "check")

    assert result.returncode == 2 and "PLAYDECK_LDAP_URL" in result.stderr
