"""Export contract and regeneration bookkeeping: serials, dirty marker, out-of-order outcomes, deletion."""

from __future__ import annotations

import datetime as dt
import json

from playdeck import db
from playdeck.dns import export, regeneration, zones
from tests.dns.conftest import ZONE, make_zone
from tests.dns.test_records import create, get_zone

DAY = dt.date(2026, 11, 27)


def begin(run_id=None, today=DAY) -> regeneration.Regeneration:
    with db.session_scope() as session:
        return regeneration.begin_regeneration(session, ZONE, run_id=run_id, today=today)


def finish(started: regeneration.Regeneration, **outcome):
    with db.session_scope() as session:
        regeneration.finish_regeneration(session, ZONE, change_seq=started.change_seq, **outcome)


def test_export_contract(zone):
    create("www", "A", "192.0.2.10", ttl=300)
    create("www", "TXT", 'say "hi"')
    create("@", "MX", "10 www")
    with db.session_scope() as session:
        data = export.export_zone(session, "Example.Test")
    assert data == {
        "zone": "example.test.",
        "serial": 0,
        "default_ttl": 3600,
        "soa": {
            "mname": "ns1.example.test.",
            "rname": "hostmaster.example.test.",
            "refresh": 3600,
            "retry": 600,
            "expire": 1209600,
            "minimum": 300,
        },
        "records": [
            {"name": "@", "type": "MX", "ttl": 3600, "value": "10 www.example.test."},
            {"name": "@", "type": "NS", "ttl": 3600, "value": "ns1.example.test."},
            {"name": "ns1", "type": "A", "ttl": 3600, "value": "192.0.2.1"},
            {"name": "www", "type": "A", "ttl": 300, "value": "192.0.2.10"},
            {"name": "www", "type": "TXT", "ttl": 3600, "value": '"say \\"hi\\""'},
        ],
    }
    assert json.loads(json.dumps(data)) == data


def test_a_regeneration_serves_what_it_exported_and_no_later_change(zone):
    started = begin(run_id=None)
    assert started.serial == 2026112700 and started.export["serial"] == 2026112700
    create("late", "A", "192.0.2.30")  # committed while the playbook runs
    finish(started, served_serial=started.serial)
    after = get_zone()
    assert after.served_serial == 2026112700 and after.regenerated_seq == started.change_seq
    assert after.dirty  # the late change is not served yet
    second = begin()
    assert (
        second.serial == 2026112701
        and {"name": "late", "type": "A", "ttl": 3600, "value": "192.0.2.30"} in (second.export["records"])
    )
    finish(second, served_serial=second.serial)
    assert not get_zone().dirty
    third = begin()  # nothing changed: same serial, same content (a forced re-install)
    assert third.serial == 2026112701


def test_a_failure_is_shown_and_the_zone_stays_dirty(zone):
    started = begin()
    finish(started, error="named-checkzone: zone example.test/IN: has 0 SOA records", run_id=None)
    failed = get_zone()
    assert failed.dirty and "0 SOA records" in failed.last_error and failed.served_serial is None
    retry = begin()
    assert retry.serial == started.serial + 1  # a new attempt never reuses a serial
    finish(retry, served_serial=retry.serial)
    assert get_zone().last_error == "" and not get_zone().dirty


def test_a_late_finish_of_an_older_regeneration_does_not_go_backwards(zone):
    older = begin()
    create("x", "A", "192.0.2.40")
    newer = begin()
    finish(newer, served_serial=newer.serial)
    finish(older, served_serial=older.serial)
    after = get_zone()
    assert after.served_serial == newer.serial and after.regenerated_seq == newer.change_seq


def test_dirty_and_deleted_zones_are_the_work_list(embedded):
    make_zone("a.test.")
    make_zone("b.test.")
    with db.session_scope() as session:
        assert [z.name for z in regeneration.dirty_zones(session)] == ["a.test.", "b.test."]
        started = regeneration.begin_regeneration(session, "a.test.")
    with db.session_scope() as session:
        regeneration.finish_regeneration(session, "a.test.", change_seq=started.change_seq, served_serial=1)
        zones.delete_zone(session, "b.test.", who="alice")
    with db.session_scope() as session:
        assert regeneration.dirty_zones(session) == []
        assert [z.name for z in regeneration.deleted_zones(session)] == ["b.test."]
