"""A directory person whose entry is renamed (a new CN) or moved to another OU — a new DN, routine in Active
Directory — is still the same Playdeck user: linked by the entry's ``entryUUID``, not its DN, at login and in
``playdeck ldap sync``; links keyed by the DN (earlier versions) are re-keyed; the user filter still decides."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.auth import password_login
from playdeck.auth.ldap import sync
from playdeck.auth.sso import rules
from playdeck.auth.sso.models import ExternalAccount
from playdeck.errors import Unauthenticated
from playdeck.models import AuditEvent
from testing.ldap_server import PEOPLE, ROOT_DN, group_dn, group_entry
from tests.ldap.conftest import use_directory

# Two OUs under the user base, as an organisation moves people between them.
STAFF, CONTRACTORS = f"ou=staff,{PEOPLE}", f"ou=contractors,{PEOPLE}"
# Entries a filter may disable (Active Directory: userAccountControl; here: a description).
ENABLED_ONLY = "(&(objectClass=person)(!(description=disabled)))"


@pytest.fixture(scope="module")
def units(slapd):
    slapd.add("\n\n".join(f"dn: {dn}\nobjectClass: organizationalUnit\nou: {dn[3:].split(',')[0]}"
                          for dn in (STAFF, CONTRACTORS)) + "\n")  # fmt: skip


@pytest.fixture
def person(embedded, slapd, units, monkeypatch, request) -> tuple[str, str]:
    """(login name, DN) of a person of this test only, named by CN in the staff OU (their login name is their
    uid), in a group mapped to developer on sampleapp; the directory configured, filtering disabled entries."""
    name = f"dana{abs(hash(request.node.nodeid)) % 10**8}"
    dn = f"cn=Dana {name},{STAFF}"
    slapd.add(
        f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: Dana {name}\nsn: Example\nmail: {name}@example.test\n"
        f"userPassword: pw\n\n{group_entry(f'g-{name}', [dn, ROOT_DN])}\n"
    )
    with db.session_scope() as session:
        rules.create_rule(session, {"source": "ldap", "group": group_dn(f"g-{name}"), "role": "developer",
                                    "projects": ["sampleapp"]})  # fmt: skip
    use_directory(monkeypatch, slapd, USER_FILTER=ENABLED_ONLY)
    return name, dn


def rename(slapd, dn: str, rdn: str | None = None, superior: str | None = None) -> str:
    """modrdn: a new RDN (made unique: ``rdn`` and the old one's value) and/or another parent; the new DN."""
    old_rdn = dn.split(",", 1)[0]
    rdn = f"{rdn} {old_rdn.partition('=')[2]}" if rdn else old_rdn
    moved = f"\nnewsuperior: {superior}" if superior else ""
    slapd.modify(f"dn: {dn}\nchangetype: modrdn\nnewrdn: {rdn}\ndeleteoldrdn: 1{moved}\n")
    return f"{rdn},{superior or dn.split(',', 1)[1]}"


def seen(name: str) -> tuple:
    """Who ``name`` logs in as: user id, role, projects, zones."""
    principal = password_login.log_in(name, "pw", "192.0.2.1").principal
    return principal.id, principal.role, principal.project_ids, principal.zones


def links() -> dict[int, str]:
    with db.session_scope() as session:
        return dict(session.execute(select(ExternalAccount.user_id, ExternalAccount.subject)).all())


def user_count() -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count()).select_from(ExternalAccount))


def key_by_dn(user_id: int, dn: str) -> None:
    """The link as versions before entryUUID made it."""
    with db.session_scope() as session:
        session.scalars(select(ExternalAccount).where(ExternalAccount.user_id == user_id)).one().subject = dn


@pytest.mark.parametrize(
    "rdn, superior", [("cn=Dana Renamed", None), (None, CONTRACTORS), ("cn=Dana Moved", CONTRACTORS)],
    ids=["renamed", "moved", "renamed-and-moved"],
)  # fmt: skip
def test_a_renamed_or_moved_person_logs_in_as_the_same_user(slapd, person, rdn, superior):
    name, dn = person
    before, accounts = seen(name), user_count()
    assert before[1].value == "developer" and before[2]

    rename(slapd, dn, rdn, superior)

    assert seen(name) == before
    assert user_count() == accounts and links()[before[0]].startswith("entryuuid:")


def test_sync_after_a_rename_keeps_the_person_active_with_their_groups(slapd, person):
    name, dn = person
    before = seen(name)
    rename(slapd, dn, "cn=Dana Renamed", CONTRACTORS)

    outcomes = {outcome.user: outcome.result for outcome in sync.sync_all()}

    assert outcomes[name].startswith("role developer"), outcomes[name]
    assert seen(name) == before


def test_a_link_keyed_by_the_dn_is_re_keyed_at_the_next_login(slapd, person):
    name, dn = person
    user_id = seen(name)[0]
    key_by_dn(user_id, dn)

    assert seen(name)[0] == user_id
    assert links()[user_id].startswith("entryuuid:")
    with db.session_scope() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "sso.login",
                                                          AuditEvent.target == name)).all()  # fmt: skip
        assert [event.details.get("rekeyed_from") for event in events] == [None, dn]
    rename(slapd, dn, "cn=Dana Renamed")
    assert seen(name)[0] == user_id


def test_sync_re_keys_a_link_keyed_by_the_dn(slapd, person):
    name, dn = person
    before = seen(name)
    key_by_dn(before[0], dn)

    assert {outcome.user: outcome.result for outcome in sync.sync_all()}[name].startswith("role developer")

    assert links()[before[0]].startswith("entryuuid:")
    rename(slapd, dn, superior=CONTRACTORS)
    assert {outcome.user: outcome.result for outcome in sync.sync_all()}[name].startswith("role developer")
    assert seen(name) == before


def test_the_user_filter_still_excludes_a_renamed_person(slapd, person):
    name, dn = person
    seen(name)
    new_dn = rename(slapd, dn, "cn=Dana Renamed", CONTRACTORS)
    assert {outcome.user: outcome.result for outcome in sync.sync_all()}[name].startswith("role developer")

    slapd.modify(f"dn: {new_dn}\nchangetype: modify\nadd: description\ndescription: disabled\n")

    outcome = {outcome.user: outcome.result for outcome in sync.sync_all()}[name]
    assert outcome == "not in the directory: deactivated (sessions ended, tokens revoked)"
    with pytest.raises(Unauthenticated):  # the same answer as an unknown name
        seen(name)
