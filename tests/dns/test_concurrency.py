"""Writers of a zone take turns (race-free rules and counters) on both databases; MariaDB: versions across
sessions, DB rules, the packed export."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import dns.name
import pytest

from playdeck import db
from playdeck.dns import changes, export, records
from playdeck.dns.changes import ChangeSet
from playdeck.dns.errors import StaleVersion
from playdeck.dns.validation import record
from playdeck.errors import ValidationError
from tests.dns.conftest import ZONE, make_zone
from tests.dns.test_records import assert_db_rules, create, get, get_zone, update


@pytest.fixture(params=["embedded", "production"])
def any_zone(request) -> str:
    request.getfixturevalue(request.param)
    return make_zone()


def test_a_writer_waits_for_the_zone_lock_and_then_sees_the_other_writers_record(any_zone):
    holding, release = threading.Event(), threading.Event()

    def cname_writer():
        with db.session_scope() as session:
            changes.lock_zone(session, ZONE)
            holding.set()
            assert release.wait(30)
            records.create_record(session, ZONE, name="x", rtype="CNAME", value="a.example.org.", who="first")

    first = threading.Thread(target=cname_writer)
    first.start()
    assert holding.wait(10)
    with ThreadPoolExecutor(max_workers=1) as pool:
        second = pool.submit(create, "x", "A", "192.0.2.1")
        # While the first writer holds the zone's lock the second cannot be done: without the lock it
        # would write its A record at once (and the CNAME after it would be the one refused).
        with pytest.raises(FutureTimeout):
            second.result(timeout=0.5)
        release.set()
        with pytest.raises(ValidationError, match="CNAME and other records"):
            second.result(timeout=60)
    first.join()


def test_concurrent_writers_lose_no_change_and_no_count(any_zone):
    before = get_zone()

    def write(worker: int) -> None:
        for i in range(5):
            create(f"w{worker}-{i}", "A", f"192.0.2.{worker * 10 + i}")

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(6)))
    after = get_zone()
    assert after.change_seq == before.change_seq + 30
    assert after.record_count == before.record_count + 30


def test_a_stale_version_is_refused_across_sessions(zone_on_mariadb):
    row = create("www", "A", "192.0.2.10")
    alice_read = get(row)
    bob_read = get(row)
    update(alice_read, value="192.0.2.11")
    with pytest.raises(StaleVersion):
        update(bob_read, value="192.0.2.12")
    assert get(row).value == "192.0.2.11"


def test_the_database_refuses_duplicates_and_split_ttls_on_its_own(zone_on_mariadb):
    assert_db_rules(ZONE)


def test_the_packed_export_reads_exactly_the_stored_rows(zone_on_mariadb):
    origin = dns.name.from_text(ZONE)
    tricky = ['say "hi"; \\o/', "tab\\tlike", "é" * 300, "x" * 4000, "CONCAT_WS('\\t')"]
    adds = [record(origin, "forward", name=f"h{i}", rtype="A", value=f"10.0.{i // 250}.{i % 250}") for i in range(1200)]
    adds += [record(origin, "forward", name="t", rtype="TXT", value=value) for value in tricky]
    with db.session_scope() as session:
        changes.apply(session, changes.lock_zone(session, ZONE), ChangeSet(adds=adds), who="bulk")
    with db.session_scope() as session:
        zone = changes.lock_zone(session, ZONE)
        packed = export._packed_records(session, zone)
        plain = export._records(session, zone)
        data = export.export_zone(session, ZONE)
    assert sorted(packed) == sorted(plain) and len(plain) == 1200 + len(tricky) + 2
    assert len(data["records"]) == len(plain)
    assert [r["value"] for r in data["records"] if r["name"] == "t"] == sorted(a.value for a in adds if a.name == "t")
