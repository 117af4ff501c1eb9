"""``playdeck.auth.ldap.entry_id``: the subject a directory person is linked by — Active Directory's binary
``objectGUID`` as its canonical GUID string and back into a filter, any configured attribute escaped, the DN
when the entry has none — and PLAYDECK_LDAP_ID_ATTRIBUTE."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from playdeck.auth.ldap import entry_id, login, people
from playdeck.auth.ldap.connection import close, service_connection
from playdeck.settings import load_settings
from testing.ldap_server import person_entry, user_dn

GUID = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")


def subject(raw: dict, *names: str) -> str:
    settings = dataclasses.replace(load_settings(), ldap_id_attributes=names or ("entryUUID", "objectGUID"))
    return entry_id.subject_of(settings, {"dn": "CN=Dana,OU=Staff,DC=corp", "raw_attributes": raw})


def test_an_objectguid_is_its_canonical_string_and_its_filter_the_bytes_as_ad_stores_them():
    # AD stores the first three fields little-endian.
    raw = bytes.fromhex("67452301ab89efcd0123456789abcdef")

    assert subject({"objectGUID": [raw]}) == f"objectguid:{GUID}"
    assert entry_id.parse(f"objectguid:{GUID}") == ("objectguid", str(GUID))
    assert (
        entry_id.id_filter("objectguid", str(GUID)) == r"(objectguid=\67\45\23\01\ab\89\ef\cd\01\23\45\67\89\ab\cd\ef)"
    )
    assert entry_id.id_filter("objectguid", "not-a-guid)(cn=*") is None


def test_the_first_id_attribute_the_entry_has_wins_and_without_one_the_dn():
    entry_uuid = b"6C7B2F4E-0D1A-103F-8A3E-83EAB2222EA5"

    assert (
        subject({"entryUUID": [entry_uuid], "objectGUID": [GUID.bytes_le]})
        == f"entryuuid:{entry_uuid.decode().lower()}"
    )
    assert subject({"objectGUID": [GUID.bytes_le]}, "entryUUID", "objectGUID") == f"objectguid:{GUID}"
    assert subject({"objectGUID": [b"short"]}) == "CN=Dana,OU=Staff,DC=corp"
    assert subject({}) == "CN=Dana,OU=Staff,DC=corp"


def test_a_dn_is_never_taken_for_an_id_and_an_id_value_is_data_in_the_filter():
    assert entry_id.parse("uid=dana,ou=people,dc=example,dc=test") is None
    assert entry_id.parse("cn=a:b,dc=example,dc=test") is None
    assert entry_id.id_filter("employeenumber", "*)(uid=*") == r"(employeenumber=\2a\29\28uid=\2a)"


def test_a_configured_attribute_links_the_person_and_finds_them_again_and_without_it_the_dn(slapd):
    settings = slapd.settings(ldap_id_attributes=("employeeNumber",))
    slapd.add(person_entry("erin", "erin-pw") + "\nemployeeNumber: E*(1)\n")

    erin = login.authenticate("erin", "erin-pw", settings)
    alice = login.authenticate("alice", "alice-pw", settings)

    assert (erin.subject, erin.former_subjects) == ("employeenumber:E*(1)", (user_dn("erin"),))
    assert (alice.subject, alice.former_subjects) == (user_dn("alice"), ())
    service = service_connection(settings)
    try:
        assert people.linked(service, settings, erin.subject).dn == user_dn("erin")
        assert people.linked(service, settings, "employeenumber:E*") is None
    finally:
        close(service)


def test_the_id_attribute_setting(monkeypatch):
    assert load_settings().ldap_id_attributes == ("entryUUID", "objectGUID")
    monkeypatch.setenv("PLAYDECK_LDAP_ID_ATTRIBUTE", "objectGUID, nsUniqueId")
    assert load_settings().ldap_id_attributes == ("objectGUID", "nsUniqueId")
    monkeypatch.setenv("PLAYDECK_LDAP_ID_ATTRIBUTE", "entryUUID)(uid=*")
    with pytest.raises(ValueError, match="not an attribute name"):
        load_settings()
