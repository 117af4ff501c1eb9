"""``playdeck.auth.ldap.login.authenticate`` against a real slapd: who a login is, with their groups (nested
too), and every way it must be refused — as a person or an attacker would try it."""

from __future__ import annotations

import dataclasses
import re
import time

import pytest

from playdeck.auth.ldap import groups, login
from playdeck.auth.ldap.connection import WrongPassword
from playdeck.auth.ldap.groups import TooManyGroups
from playdeck.errors import DirectoryUnavailable
from testing.ldap_server import group_dn, group_entry, person_entry, user_dn
from tests.conftest import free_port


def test_a_good_login_is_the_person_with_their_groups_nested_ones_too(slapd):
    identity = login.authenticate("bob", "bob-pw", slapd.settings())

    assert identity.source == "ldap"
    # Linked by the entry's entryUUID (a rename keeps it); the DN, which links made by earlier versions used, too.
    assert re.fullmatch(r"entryuuid:[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", identity.subject)
    assert identity.former_subjects == (user_dn("bob"),)
    assert (identity.user_name, identity.email, identity.display_name) == ("bob", "bob@example.test", "Bob Example")
    # bob is in oncall; oncall is in sre; sre is in ops.
    assert identity.groups == tuple(sorted(group_dn(name) for name in ("oncall", "sre", "ops")))


def test_without_nesting_only_the_direct_groups_count(slapd):
    identity = login.authenticate("bob", "bob-pw", slapd.settings(ldap_nested_groups=False))

    assert identity.groups == (group_dn("oncall"),)


def test_the_nesting_walk_stops_at_its_depth(slapd):
    identity = login.authenticate("bob", "bob-pw", slapd.settings(ldap_nesting_depth=1))

    assert identity.groups == tuple(sorted(group_dn(name) for name in ("oncall", "sre")))


def test_without_a_group_base_the_entry_s_memberof_says_the_groups(slapd):
    identity = login.authenticate("alice", "alice-pw", slapd.settings(ldap_group_base=""))

    assert identity.groups == (group_dn("deployers"),)


def test_a_person_in_no_group_is_who_they_are_with_no_groups(slapd):
    identity = login.authenticate("carol", "carol-pw", slapd.settings())

    assert identity.user_name == "carol" and identity.groups == ()


def test_the_name_is_the_directory_s_spelling_of_it(slapd):
    # uid matches without regard to case: the identity carries the directory's own spelling.
    assert login.authenticate("ALICE", "alice-pw", slapd.settings()).user_name == "alice"


@pytest.mark.parametrize("password", ["wrong", "alice-pw ", "ALICE-PW"])
def test_a_wrong_password_is_refused(slapd, password):
    with pytest.raises(WrongPassword, match="wrong user name or password"):
        login.authenticate("alice", password, slapd.settings())


def test_an_empty_password_is_refused_before_any_bind(slapd):
    # This slapd takes a name with an empty password as an anonymous bind and says "success" (allow
    # bind_anon_cred), as some directories do: sent, it would have let anyone in as alice.
    with pytest.raises(WrongPassword):
        login.authenticate("alice", "", slapd.settings())
    from playdeck.auth.ldap.connection import bind

    with pytest.raises(WrongPassword):
        bind(slapd.settings(), user_dn("alice"), "")


ATTACKS = ["*", "*)(uid=*", "alice)(|(uid=*", "*)(|(objectClass=*)", "al*", "alice\x00", "a" * 300]


@pytest.mark.parametrize("name", ATTACKS)
def test_filter_syntax_in_the_name_matches_nobody(slapd, name):
    # As an attacker: with the filter pasted, "*)(uid=*" matched every person and "*" bound as the first.
    for password in ("alice-pw", "bob-pw", "carol-pw"):
        with pytest.raises(WrongPassword):
            login.authenticate(name, password, slapd.settings())


def test_an_unknown_name_gets_the_same_answer_as_a_wrong_password(slapd):
    with pytest.raises(WrongPassword, match="wrong user name or password"):
        login.authenticate("mallory", "alice-pw", slapd.settings())


def test_a_directory_entry_that_is_not_a_person_cannot_log_in(slapd):
    # The service account is in the directory with a password, but outside the user base.
    with pytest.raises(WrongPassword):
        login.authenticate("playdeck", "service-secret", slapd.settings())


def test_starttls_on_the_plain_port_works(slapd):
    settings = slapd.settings(ldap_urls=(slapd.ldap_url,), ldap_starttls=True)

    assert login.authenticate("alice", "alice-pw", settings).groups == (group_dn("deployers"),)


def test_a_certificate_of_a_ca_not_trusted_is_refused(slapd, other_ca):
    for url in (slapd.ldaps_url, slapd.ldap_url):
        settings = slapd.settings(ldap_urls=(url,), ldap_starttls=True, ldap_ca_file=other_ca)
        with pytest.raises(DirectoryUnavailable) as refused:
            login.authenticate("alice", "alice-pw", settings)
        assert "certificate verify failed" in refused.value.detail
        assert "local accounts can still log in" in refused.value.message


def test_a_certificate_for_another_name_is_refused(slapd):
    # The certificate is for 127.0.0.1; "localhost" reaches the same server under a name it does not have.
    settings = slapd.settings(ldap_urls=(f"ldaps://localhost:{slapd.tls_port}",))

    with pytest.raises(DirectoryUnavailable) as refused:
        login.authenticate("alice", "alice-pw", settings)
    assert "localhost" in refused.value.detail


def test_a_server_that_is_down_is_a_clear_error_at_once(slapd):
    settings = slapd.settings(ldap_urls=(f"ldaps://127.0.0.1:{free_port()}",))
    started = time.monotonic()

    with pytest.raises(DirectoryUnavailable, match="cannot be reached"):
        login.authenticate("alice", "alice-pw", settings)
    assert time.monotonic() - started < 2


def test_a_server_that_never_answers_gives_up_after_the_timeout(slapd, silent_port):
    hung = f"ldaps://127.0.0.1:{silent_port}"
    settings = slapd.settings(ldap_urls=(hung,), ldap_receive_timeout_seconds=1)
    started = time.monotonic()

    with pytest.raises(DirectoryUnavailable):
        login.authenticate("alice", "alice-pw", settings)
    assert time.monotonic() - started < 5


def test_the_next_server_is_tried_when_the_first_is_down(slapd):
    settings = slapd.settings(ldap_urls=(f"ldaps://127.0.0.1:{free_port()}", slapd.ldaps_url))

    assert login.authenticate("alice", "alice-pw", settings).user_name == "alice"


def test_a_service_account_refused_is_the_directory_s_problem_not_the_person_s(slapd):
    settings = slapd.settings(ldap_bind_password="not-it")

    with pytest.raises(DirectoryUnavailable) as refused:
        login.authenticate("alice", "alice-pw", settings)
    assert "service account" in refused.value.detail


def test_a_person_in_too_many_groups_is_refused(slapd):
    # dave, of this test only, is in 30 groups.
    groups = [group_entry(f"big{n:03d}", [user_dn("dave")]) for n in range(30)]
    slapd.add("\n\n".join([person_entry("dave", "dave-pw"), *groups]) + "\n")
    settings = slapd.settings(ldap_max_groups=20)

    with pytest.raises(TooManyGroups, match="more than 20 groups"):
        login.authenticate("dave", "dave-pw", settings)
    with pytest.raises(TooManyGroups):
        login.authenticate("dave", "dave-pw", dataclasses.replace(settings, ldap_group_base=""))
    # Under the limit, all of them.
    assert login.authenticate("dave", "dave-pw", slapd.settings()).groups == tuple(
        sorted(group_dn(f"big{n:03d}") for n in range(30))
    )


def test_a_real_name_with_filter_characters_matches_exactly_its_person(slapd):
    # Escaped, "(", ")" and "*" are plain characters: o(x)* logs in, with the groups naming that DN.
    slapd.add(f"{person_entry('o(x)*', 'ox-pw')}\n\n{group_entry('parens', [user_dn('o(x)*')])}\n")

    identity = login.authenticate("o(x)*", "ox-pw", slapd.settings())

    assert identity.former_subjects == (user_dn("o(x)*"),) and identity.groups == (group_dn("parens"),)
    with pytest.raises(WrongPassword):
        login.authenticate("o(x)", "ox-pw", slapd.settings())


def test_active_directory_resolves_the_nesting_with_its_matching_rule_the_dn_escaped(slapd):
    # slapd does not know AD's rule: the filter is what AD gets.
    settings = slapd.settings(ldap_active_directory=True)
    rule = f":{groups.IN_CHAIN}:"

    built = groups._members_filter(settings, ["CN=Ann (ops)*,OU=People"], rule)

    assert built == r"(&(objectClass=group)(|(member:1.2.840.113556.1.4.1941:=CN=Ann \28ops\29\2a,OU=People)))"
