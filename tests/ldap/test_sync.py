"""``playdeck ldap sync``: what a directory change takes away is taken at once, not at the person's next login —
roles and grants follow the groups, a person whose groups map to nothing or who left the directory is deactivated
(sessions ended, tokens revoked); a directory that cannot be read changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from playdeck import db
from playdeck.auth import credentials, password_login, users
from playdeck.auth.ldap import sync
from playdeck.auth.sso import rules
from playdeck.errors import DirectoryUnavailable
from playdeck.models import AuditEvent
from testing.ldap_server import ROOT_DN, group_dn, group_entry, person_entry, user_dn
from tests.cli.cli_support import playdeck
from tests.conftest import free_port
from tests.ldap.conftest import use_directory


@pytest.fixture
def people(embedded, slapd, monkeypatch, request):
    """Three people of this test only (names from its node id), each in a group of their own that maps to
    a role, logged in once (their users exist, each with an API token)."""
    suffix = str(abs(hash(request.node.nodeid)) % 10**8)
    names = {role: f"{role[:3]}{suffix}" for role in ("developer", "release_manager", "viewer")}
    entries = []
    for name in names.values():
        # ROOT_DN too: a groupOfNames must keep a member when the person leaves it.
        entries += [person_entry(name, "pw"), group_entry(f"g-{name}", [user_dn(name), ROOT_DN])]
    slapd.add("\n\n".join(entries) + "\n")
    with db.session_scope() as session:
        for role, name in names.items():
            projects = ["sampleapp"] if role == "developer" else []
            rules.create_rule(session, {"source": "ldap", "group": group_dn(f"g-{name}"), "role": role,
                                        "projects": projects})  # fmt: skip
    use_directory(monkeypatch, slapd)
    tokens = {}
    for name in names.values():
        password_login.log_in(name, "pw", "192.0.2.1")
        with db.session_scope() as session:
            tokens[name] = credentials.create_token(session, name, name="ci").token
    return names, tokens


def described(name: str) -> dict:
    with db.session_scope() as session:
        return users.describe_one(session, users.get_user(session, name))


def token_works(token: str) -> bool:
    with db.session_scope() as session:
        return credentials.token_principal(session, token) is not None


def move(slapd, name: str, old_group: str, new_group: str) -> None:
    slapd.modify(
        f"dn: {group_dn(old_group)}\nchangetype: modify\ndelete: member\nmember: {user_dn(name)}\n\n"
        f"dn: {group_dn(new_group)}\nchangetype: modify\nadd: member\nmember: {user_dn(name)}\n"
    )


def test_a_person_moved_to_another_group_gets_its_role_at_once(slapd, people):
    names, tokens = people
    developer, viewer = names["developer"], names["viewer"]
    move(slapd, developer, f"g-{developer}", f"g-{viewer}")

    outcomes = {outcome.user: outcome.result for outcome in sync.sync_all()}

    assert outcomes[developer].startswith("role viewer")
    assert described(developer)["role"] == "viewer" and described(developer)["projects"] == []
    assert token_works(tokens[developer])  # still theirs, with the lower role
    assert described(names["release_manager"])["role"] == "release_manager"


def test_a_person_whose_groups_map_to_nothing_is_deactivated_and_their_tokens_revoked(slapd, people):
    names, tokens = people
    leaver = names["release_manager"]
    slapd.modify(f"dn: {group_dn(f'g-{leaver}')}\nchangetype: modify\ndelete: member\nmember: {user_dn(leaver)}\n")

    outcomes = {outcome.user: outcome.result for outcome in sync.sync_all()}

    assert outcomes[leaver] == "no matching group: deactivated (sessions ended, tokens revoked)"
    assert described(leaver)["active"] is False and not token_works(tokens[leaver])
    assert token_works(tokens[names["developer"]])


def test_a_person_gone_from_the_directory_is_deactivated(slapd, people):
    names, tokens = people
    gone = names["viewer"]
    slapd.modify(f"dn: {user_dn(gone)}\nchangetype: delete\n")

    outcomes = {outcome.user: outcome.result for outcome in sync.sync_all()}

    assert outcomes[gone].startswith("not in the directory: deactivated")
    assert not token_works(tokens[gone])
    with db.session_scope() as session:
        audited = session.scalars(select(AuditEvent.action).where(AuditEvent.target == gone)).all()
    assert "user.deactivate" in audited and "sso.resync" in audited


def test_a_dry_run_changes_nothing(slapd, people):
    names, tokens = people
    leaver = names["developer"]
    slapd.modify(f"dn: {user_dn(leaver)}\nchangetype: delete\n")

    result = playdeck("ldap", "sync", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert f"{leaver}: not in the directory: would be deactivated" in result.stdout
    assert described(leaver)["active"] is True and token_works(tokens[leaver])
    assert playdeck("ldap", "sync").returncode == 0
    assert described(leaver)["active"] is False


def test_a_directory_that_cannot_be_read_changes_nothing(slapd, people, monkeypatch):
    names, tokens = people
    use_directory(monkeypatch, slapd, URL=f"ldaps://127.0.0.1:{free_port()}")

    with pytest.raises(DirectoryUnavailable):
        sync.sync_all()
    result = playdeck("ldap", "sync")

    assert result.returncode == 1 and "nothing changed" in result.stderr
    assert all(token_works(token) for token in tokens.values())
