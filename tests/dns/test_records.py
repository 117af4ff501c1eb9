"""Record and zone writes: versions, RRset TTLs, rules between records, change_seq, history, automatic PTRs."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from playdeck import db
from playdeck.dns import changes, export, history, records, regeneration, zones
from playdeck.dns.errors import StaleVersion
from playdeck.dns.models import Record, RRset, Zone
from playdeck.dns.validation import value_hash
from playdeck.errors import Conflict, NotFound, ValidationError
from tests.dns.conftest import REVERSE_ZONE, ZONE, make_reverse_zone, make_zone, zone_state


def create(name, rtype, value, zone=ZONE, **fields):
    with db.session_scope() as session:
        return records.create_record(session, zone, name=name, rtype=rtype, value=value, who="bob", **fields)


def update(row, zone=ZONE, **fields):
    with db.session_scope() as session:
        return records.update_record(session, zone, row.id, expected_version=row.version, who="carol", **fields)


def delete(row, zone=ZONE):
    with db.session_scope() as session:
        records.delete_record(session, zone, row.id, expected_version=row.version, who="dave")


def get(row, zone=ZONE):
    with db.session_scope() as session:
        return records.get_record(session, zone, row.id)


def get_zone(name=ZONE) -> Zone:
    with db.session_scope() as session:
        return zones.get_zone(session, name)


def exported(zone=ZONE) -> list[tuple]:
    with db.session_scope() as session:
        return [(r["name"], r["type"], r["ttl"], r["value"]) for r in export.export_zone(session, zone)["records"]]


def changes_of(zone=ZONE, record_id=None):
    with db.session_scope() as session:
        return history.list_changes(session, zone, record_id=record_id)


def test_a_new_zone_has_its_ns_and_glue_and_is_dirty(zone):
    assert exported() == [("@", "NS", 3600, "ns1.example.test."), ("ns1", "A", 3600, "192.0.2.1")]
    created = get_zone()
    assert created.dirty and created.record_count == 2 and created.kind == "forward"
    assert [change.action for change in changes_of()] == ["create", "create", "zone-create"]


def test_create_marks_the_zone_dirty_in_the_same_transaction(zone):
    with db.session_scope() as session:
        regeneration.finish_regeneration(session, zone, change_seq=get_zone().change_seq, served_serial=1)
    clean = get_zone()
    assert not clean.dirty
    row = create("www", "A", "192.0.2.10", ttl=300, comment="web")
    after = get_zone()
    assert after.dirty and after.change_seq == clean.change_seq + 1 and after.record_count == 3
    assert (row.name, row.rtype, row.ttl, row.value, row.comment, row.version) == (
        "www", "A", 300, "192.0.2.10", "web", 1
    )  # fmt: skip
    (change,) = changes_of(record_id=row.id)
    assert (change.action, change.changed_by, change.change_seq) == ("create", "bob", after.change_seq)
    assert change.before == {} and change.after["value"] == "192.0.2.10"


def test_a_change_rolled_back_leaves_no_trace(zone):
    before = zone_state()
    with pytest.raises(RuntimeError), db.session_scope() as session:
        records.create_record(session, zone, name="www", rtype="A", value="192.0.2.10", who="bob")
        raise RuntimeError("the request failed after the write")
    assert zone_state() == before


def test_duplicate_record_is_a_conflict(zone):
    create("www", "A", "192.0.2.10")
    before = zone_state()
    with pytest.raises(Conflict, match="already exists"):
        create("WWW.example.test.", "A", "192.0.2.10")
    assert zone_state() == before


def test_update_with_the_version_read_and_a_stale_one(zone):
    row = create("www", "A", "192.0.2.10", comment="first")
    updated = update(row, value="192.0.2.11", comment="second")
    assert (updated.id, updated.value, updated.comment, updated.version) == (row.id, "192.0.2.11", "second", 2)
    before = zone_state()
    with pytest.raises(StaleVersion, match="version 2, you had 1") as refused:
        update(row, value="192.0.2.99")  # row still says version 1: someone else's edit happened since
    assert refused.value.status_code == 409 and refused.value.current == 2
    assert zone_state() == before and get(row).value == "192.0.2.11"
    update_change = changes_of(record_id=row.id)[0]
    assert update_change.action == "update" and update_change.changed_by == "carol"
    assert (update_change.before["value"], update_change.after["value"]) == ("192.0.2.10", "192.0.2.11")


def test_delete_needs_the_current_version(zone):
    row = create("www", "A", "192.0.2.10")
    update(row, comment="changed")
    with pytest.raises(StaleVersion):
        delete(row)
    delete(get(row))
    with pytest.raises(NotFound):
        get(row)
    with db.session_scope() as session:
        assert session.get(RRset, (session.scalar(select(Zone.id)), "www", "A")) is None
    assert changes_of(record_id=row.id)[0].action == "delete"
    assert changes_of(record_id=row.id)[0].before["value"] == "192.0.2.10"


def test_a_ttl_is_the_rrsets_and_siblings_follow_with_a_new_version(zone):
    first = create("www", "A", "192.0.2.10", ttl=300)
    second = create("www", "A", "192.0.2.11")  # no TTL: the RRset's
    assert second.ttl == 300
    third = create("www", "A", "192.0.2.12", ttl=600)
    assert [row[2] for row in exported() if row[0] == "www"] == [600, 600, 600]
    sibling = get(first)
    assert sibling.ttl == 600 and sibling.version == 2
    note = changes_of(record_id=first.id)[0]
    assert (note.before["ttl"], note.after["ttl"], note.note) == (300, 600, "TTL of www A set")
    with pytest.raises(StaleVersion):
        update(first, comment="edited from a stale read")
    update(third, ttl=60)
    assert {get(row).ttl for row in (first, second, third)} == {60}


def test_comment_only_edit_does_not_dirty_the_zone(zone):
    row = create("www", "A", "192.0.2.10")
    seq = get_zone().change_seq
    edited = update(row, comment="just a note")
    assert edited.version == 2 and get_zone().change_seq == seq
    assert changes_of(record_id=row.id)[0].after["comment"] == "just a note"


def test_moving_a_record_keeps_its_id_and_ttl(zone):
    row = create("www", "A", "192.0.2.10", ttl=120)
    moved = update(row, name="web")
    assert (moved.id, moved.name, moved.ttl) == (row.id, "web", 120)
    assert ("www", "A", 120, "192.0.2.10") not in exported()


def test_cname_is_alone_at_its_name(zone):
    create("x", "A", "192.0.2.10")
    create("alias", "CNAME", "www.example.org.")
    with pytest.raises(ValidationError, match="CNAME and other records"):
        create("x", "CNAME", "www.example.org.")
    with pytest.raises(ValidationError, match="CNAME and other records"):
        create("alias", "TXT", "hello")
    with pytest.raises(ValidationError, match="only one CNAME"):
        create("alias", "CNAME", "other.example.org.")


def test_targets_inside_the_zone_keep_their_address(zone):
    mail = create("mail", "A", "192.0.2.25")
    create("@", "MX", "10 mail")
    with pytest.raises(ValidationError, match="must keep an A or AAAA record: @ MX 10 mail.example.test."):
        delete(mail)
    moved = update(mail, value="192.0.2.26")  # still an address: fine
    with pytest.raises(ValidationError, match="must keep an A or AAAA"):
        update(moved, name="smtp")
    create("mail", "AAAA", "2001:db8::25")
    delete(moved)  # the AAAA remains
    create("alias", "CNAME", "mail")
    with pytest.raises(ValidationError, match="is a CNAME"):
        create("@", "MX", "20 alias")


def test_the_apex_keeps_an_ns_record(zone):
    with db.session_scope() as session:
        ns = session.scalar(select(Record).where(Record.rtype == "NS"))
        ns_row = records.get_record(session, zone, ns.id)
    with pytest.raises(ValidationError, match="at least one NS record"):
        delete(ns_row)
    create("@", "NS", "ns.example.org.")
    delete(ns_row)


def test_delegation_holds_only_ns(zone):
    create("sub", "NS", "ns.example.org.")
    with pytest.raises(ValidationError, match="delegated"):
        create("sub", "TXT", "hello")
    create("txt", "TXT", "hello")
    with pytest.raises(ValidationError, match="delegated"):
        create("txt", "NS", "ns.example.org.")


def test_automatic_ptr_follows_a_and_aaaa_records(embedded):
    make_zone(auto_ptr=True)
    make_reverse_zone()
    reverse_seq = get_zone(REVERSE_ZONE).change_seq
    www = create("www", "A", "192.0.2.10")
    assert ("10", "PTR", 3600, "www.example.test.") in exported(REVERSE_ZONE)
    assert get_zone(REVERSE_ZONE).change_seq == reverse_seq + 1
    ptr_change = changes_of(REVERSE_ZONE)[0]
    assert ptr_change.changed_by == "bob" and "automatic PTR" in ptr_change.note
    www = update(www, value="192.0.2.11")
    ptrs = [row for row in exported(REVERSE_ZONE) if row[1] == "PTR"]
    assert ptrs == [("11", "PTR", 3600, "www.example.test.")]
    create("*.dev", "A", "192.0.2.12")  # a wildcard has no name to point back at
    create("other", "A", "198.51.100.1")  # no managed reverse zone covers it
    delete(www)
    assert [row for row in exported(REVERSE_ZONE) if row[1] == "PTR"] == []


def test_automatic_ptr_leaves_a_ptr_written_by_hand(embedded):
    make_zone(auto_ptr=True)
    make_reverse_zone()
    create("10", "PTR", "host.example.org.", zone=REVERSE_ZONE)
    www = create("www", "A", "192.0.2.10")
    delete(www)
    assert ("10", "PTR", 3600, "host.example.org.") in exported(REVERSE_ZONE)


def test_zone_settings_need_the_version_read(zone):
    read = get_zone()
    with db.session_scope() as session:
        zones.update_zone(session, zone, expected_version=read.version, who="erin", refresh=7200, minimum=60)
    changed = get_zone()
    assert (changed.refresh, changed.minimum, changed.version) == (7200, 60, read.version + 1)
    assert changed.change_seq == read.change_seq + 1
    with pytest.raises(StaleVersion), db.session_scope() as session:
        zones.update_zone(session, zone, expected_version=read.version, who="frank", refresh=1)
    assert get_zone().refresh == 7200
    (change,) = [c for c in changes_of() if c.action == "zone-update"]
    assert (change.before["refresh"], change.after["refresh"]) == (3600, 7200)
    with db.session_scope() as session:
        zones.update_zone(session, zone, expected_version=changed.version, who="erin", auto_ptr=True)
    assert get_zone().change_seq == changed.change_seq  # not part of the zone file


def test_deleted_zone_waits_for_its_purge(zone):
    with db.session_scope() as session:
        zones.delete_zone(session, zone, who="alice")
    with pytest.raises(NotFound), db.session_scope() as session:
        zones.get_zone(session, zone)
    with db.session_scope() as session:
        assert [z.name for z in regeneration.deleted_zones(session)] == [ZONE]
    with pytest.raises(Conflict, match="still being removed"):
        make_zone()
    with db.session_scope() as session:
        regeneration.purge_zone(session, zone)
    with db.session_scope() as session:
        assert session.scalars(select(Record)).all() == []
    make_zone()
    assert [c.action for c in changes_of()][:2] == ["create", "create"]
    assert "zone-delete" in [c.action for c in changes_of()]


def test_the_database_refuses_duplicates_and_split_ttls_on_its_own(zone):
    """Bypassing the service: UNIQUE(zone, name, type, value) and one TTL per RRset are DB rules."""
    assert_db_rules(zone)


def assert_db_rules(zone: str) -> None:
    with db.session_scope() as session:
        zone_id = changes.lock_zone(session, zone).id
        session.add(RRset(zone_id=zone_id, name="dup", rtype="A", ttl=300))
    row = {"zone_id": zone_id, "name": "dup", "rtype": "A", "value": "192.0.2.5", "target": None}
    row["value_hash"] = value_hash(row["value"])
    with db.session_scope() as session:
        session.add(Record(ttl=300, **row))
    with pytest.raises(IntegrityError), db.session_scope() as session:
        session.add(Record(ttl=300, **row))
    with pytest.raises(IntegrityError), db.session_scope() as session:
        session.add(Record(ttl=600, **(row | {"value": "192.0.2.6", "value_hash": value_hash("192.0.2.6")})))


@pytest.mark.parametrize("backend", ["embedded", "production"])
def test_a_deleted_records_id_never_passes_to_a_new_record_nor_its_history(backend, request):
    """SQLite used to hand the deleted newest row's id to the next insert: B's history then told A's changes."""
    request.getfixturevalue(backend)
    make_zone()
    first = create("old", "A", "192.0.2.10")
    first = update(first, comment="changed")
    delete(first)  # the newest record goes
    second = create("new", "A", "192.0.2.20")
    assert second.id != first.id
    assert [(change.action, change.after.get("name")) for change in changes_of(record_id=second.id)] == [
        ("create", "new")
    ]
    assert [change.action for change in changes_of(record_id=first.id)] == ["delete", "update", "create"]
