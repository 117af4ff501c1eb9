"""Bulk import of a zone file: preview, atomic apply at the previewed change_seq, hostile files refused."""

from __future__ import annotations

import pytest

from playdeck import db
from playdeck.dns import history, importing, records, zones
from playdeck.dns.errors import StaleVersion
from playdeck.errors import ValidationError
from tests.dns.conftest import ZONE, zone_state
from tests.dns.test_records import create, exported

ZONE_FILE = """$TTL 300
@       IN SOA ns1 hostmaster 2030010100 3600 600 1209600 300
@       IN NS  ns1
ns1     3600 IN A   192.0.2.1
www     IN A   192.0.2.10
www     IN A   192.0.2.11
mail    IN A   192.0.2.25
@       IN MX  10 mail
txt     IN TXT "hello world" ; a comment
$ORIGIN lab
host    IN AAAA 2001:db8::1
"""


def preview(text=ZONE_FILE, **options):
    with db.session_scope() as session:
        return importing.preview_import(session, ZONE, text, **options)


def apply(text=ZONE_FILE, expected=None, **options):
    with db.session_scope() as session:
        expected = preview(text, **options).base_change_seq if expected is None else expected
        return importing.apply_import(session, ZONE, text, expected_change_seq=expected, who="importer", **options)


def test_preview_then_apply(zone):
    create("old", "TXT", "to be deleted")
    shown = preview()
    assert {(r.name, r.rtype, r.value) for r in shown.adds} == {
        ("www", "A", "192.0.2.10"),
        ("www", "A", "192.0.2.11"),
        ("mail", "A", "192.0.2.25"),
        ("@", "MX", "10 mail.example.test."),
        ("txt", "TXT", '"hello world"'),
        ("host.lab", "AAAA", "2001:db8::1"),
    }
    assert [(d["name"], d["type"]) for d in shown.deletes] == [("old", "TXT")]
    assert [(c.name, c.rtype, c.old, c.new) for c in shown.ttl_changes] == [("@", "NS", 3600, 300)]
    assert shown.unchanged == 2 and shown.file_serial == 2030010100
    assert preview().as_dict() == shown.as_dict()  # a preview changes nothing
    applied = apply(expected=shown.base_change_seq)
    assert applied.as_dict() == shown.as_dict()
    assert exported() == [
        ("@", "MX", 300, "10 mail.example.test."),
        ("@", "NS", 300, "ns1.example.test."),
        ("host.lab", "AAAA", 300, "2001:db8::1"),
        ("mail", "A", 300, "192.0.2.25"),
        ("ns1", "A", 3600, "192.0.2.1"),
        ("txt", "TXT", 300, '"hello world"'),
        ("www", "A", 300, "192.0.2.10"),
        ("www", "A", 300, "192.0.2.11"),
    ]
    with db.session_scope() as session:
        zone_row = zones.get_zone(session, ZONE)
        assert zone_row.serial == 2030010100 and zone_row.dirty
        actions = {change.action for change in history.list_changes(session, ZONE, limit=20)}
    assert "import" in actions
    again = preview()
    assert (again.adds, again.deletes, again.ttl_changes, again.unchanged) == ([], [], [], 8)


def test_apply_refuses_a_zone_changed_since_the_preview(zone):
    shown = preview()
    create("late", "A", "192.0.2.77")
    before = zone_state()
    with pytest.raises(StaleVersion):
        apply(expected=shown.base_change_seq)
    assert zone_state() == before


def test_merge_keeps_what_the_file_does_not_mention(zone):
    create("keep", "A", "192.0.2.50")
    apply("extra 60 IN A 192.0.2.51\n", delete_missing=False)
    names = {row[0] for row in exported()}
    assert {"keep", "extra", "ns1", "@"} <= names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$INCLUDE /etc/passwd\n", "'\\$INCLUDE' is not allowed"),
        ("$GENERATE 1-3 h$ A 192.0.2.$\n", "'\\$GENERATE' is not allowed"),
        ("x 300 A 192.0.2.1\nwww.other.test. 300 A 192.0.2.2\n", "outside the zone"),
        ("$ORIGIN other.test.\nx 300 A 192.0.2.2\n", "outside the zone"),
        ("x 300 A 192.0.2.1\x00\n", "control characters"),
        ("x 300 HINFO a b\n", "x.example.test. HINFO: .*not supported"),
        ("x 300 CNAME a.example.org.\nx 300 A 192.0.2.1\n", "not a valid zone file"),
        ("@ 300 MX 10 nomail\n", "has no A or AAAA record"),
        ("x 300 A 192.0.2.1\n", "whole zone file .* SOA and NS"),
        ("x 300 A 192.0.2.1 (\n", "not a valid zone file"),
        ("_x 300 A 192.0.2.1\n", "label '_x'"),
        ("x 99999999999 A 192.0.2.1\n", "not a valid zone file"),
        ("", "is required"),
    ],
)
def test_hostile_and_broken_files_are_refused(zone, text, message):
    before = zone_state()
    delete_missing = "SOA and NS" in message
    with pytest.raises(ValidationError, match=message):
        preview(text, delete_missing=delete_missing)
    with pytest.raises(ValidationError, match=message), db.session_scope() as session:
        importing.apply_import(
            session, ZONE, text, expected_change_seq=before["change_seq"], who="m", delete_missing=delete_missing
        )
    assert zone_state() == before


def test_import_keeps_comments_of_unchanged_records(zone):
    row = create("www", "A", "192.0.2.10", ttl=300, comment="the web server")
    apply()
    with db.session_scope() as session:
        assert records.get_record(session, ZONE, row.id).comment == "the web server"
