"""Record changes reach a real BIND through regeneration runs: a real worker runs playbooks/dns-zone.yml
on MariaDB and Redis, the runs are coalesced, and BIND serves exactly the DB's records with its serial.
A deleted zone's run removes it from BIND (playbooks/dns-zone-delete.yml) and purges it."""

from __future__ import annotations

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.dns import export, records, scheduling, zones
from playdeck.dns.models import Record, RRset, Zone, ZoneChange
from playdeck.models import Environment, Project, Run
from playdeck.settings import get_settings
from testing.dns_server import ThrowawayBind
from tests.conftest import TERMINAL, configure, request_regeneration, wait_for_state, web_client
from tests.dns.conftest import ZONE, make_zone
from tests.runners.test_cancel import wait_until


@pytest.fixture
def dns_stack(monkeypatch, tmp_path, mariadb_url, redis_url, bind_server: ThrowawayBind, start_worker):
    configure(
        monkeypatch,
        seed_sample=False,
        data_dir=str(tmp_path / "data"),
        database_url=mariadb_url,
        broker_url=redis_url,
        dns_zone_dir=str(bind_server.zone_dir),
        dns_port=str(bind_server.port),
        dns_rndc_conf=str(bind_server.rndc_conf),
    )
    return start_worker(queues="dns", concurrency=2)


def served(bind: ThrowawayBind, zone: str) -> set[tuple[str, str, int, str]]:
    """What BIND serves (AXFR) but the SOA, in the export's terms."""
    transferred = bind.transfer(zone)
    return {
        (name.relativize(transferred.origin).to_text(), rdataset.rdtype.name, rdataset.ttl, rdata.to_text())
        for name, node in transferred.nodes.items()
        for rdataset in node
        for rdata in rdataset
        if rdataset.rdtype.name != "SOA"
    }


def in_db(zone: str) -> tuple[int, set[tuple[str, str, int, str]]]:
    with db.session_scope() as session:
        data = export.export_zone(session, zone)
    return data["serial"], {(r["name"], r["type"], r["ttl"], r["value"]) for r in data["records"]}


def zone_row(zone: str = ZONE) -> Zone:
    with db.session_scope() as session:
        return zones.get_zone(session, zone)


def regeneration_runs() -> list[Run]:
    with db.session_scope() as session:
        return list(
            session.scalars(select(Run).join(Project).where(Project.name == scheduling.DNS_PROJECT).order_by(Run.id))
        )


def settled() -> bool:
    """The zone is served as in the DB and no regeneration is left to run."""
    return not zone_row().dirty and all(run.state in TERMINAL for run in regeneration_runs())


def add_record(name: str, rtype: str, value: str, ttl: int = 300) -> None:
    """As the API adds one: the change commits with its zone's run, sent after the commit."""
    with scheduling.writing("alice") as write:
        records.create_record(write.session, ZONE, name=name, rtype=rtype, value=value, ttl=ttl, who="alice")


def test_a_new_zone_and_its_changes_are_served_exactly(dns_stack, bind_server):
    make_zone()
    first = request_regeneration(ZONE, "alice")
    assert wait_for_state(first, TERMINAL, timeout=120) == "successful"
    serial, expected = in_db(ZONE)
    assert bind_server.soa_serial(ZONE) == serial == zone_row().served_serial
    assert served(bind_server, ZONE) == expected
    assert not zone_row().dirty

    add_record("www", "A", "192.0.2.80")
    add_record("@", "TXT", "v=spf1 -all", ttl=600)
    wait_until(settled, 120, "the changes to be served")

    new_serial, expected = in_db(ZONE)
    assert new_serial > serial and bind_server.soa_serial(ZONE) == new_serial
    assert {("www", "A", 300, "192.0.2.80"), ("@", "TXT", 600, '"v=spf1 -all"')} <= served(bind_server, ZONE)
    assert served(bind_server, ZONE) == expected
    # Two changes: at most one more run each, all successful, never two at the same time.
    runs = regeneration_runs()
    assert 2 <= len(runs) <= 3 and {run.state for run in runs} == {"successful"}
    assert all(a.finished_at <= b.started_at for a, b in zip(runs, runs[1:], strict=False))


def test_a_burst_of_changes_is_coalesced_into_a_few_runs(dns_stack, bind_server):
    make_zone()
    assert wait_for_state(request_regeneration(ZONE), TERMINAL, timeout=120) == "successful"

    for host in range(40):
        add_record(f"host{host}", "A", f"192.0.2.{100 + host}")

    wait_until(settled, 180, "the burst to be served")
    runs = regeneration_runs()
    # One run for the zone's creation, then a handful for 40 changes: a queued run takes every change
    # committed before it starts, and starts no sooner than the spacing after the one before.
    assert 2 <= len(runs) <= 5, [(run.id, run.state) for run in runs]
    assert {run.state for run in runs} == {"successful"}
    spacing = get_settings().dns_regeneration_spacing_seconds
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in zip(runs, runs[1:], strict=False)]
    assert min(gaps) >= spacing, gaps
    serial, expected = in_db(ZONE)
    assert bind_server.soa_serial(ZONE) == serial
    assert served(bind_server, ZONE) == expected
    assert len(expected) == 2 + 40  # NS and ns1's A, then the burst


def test_a_zone_whose_run_vanished_is_regenerated_by_the_reaper(dns_stack, bind_server):
    from playdeck import reaper

    make_zone()  # changed, but no run requested: as if the broker lost the message and the run row
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0

    report = reaper.reap()

    assert len(report.regenerations) == 1
    assert wait_for_state(report.regenerations[0], TERMINAL, timeout=120) == "successful"
    assert bind_server.soa_serial(ZONE) == in_db(ZONE)[0]
    assert reaper.reap().regenerations == []  # served: nothing more to do


def test_a_deleted_zone_leaves_bind_is_purged_and_can_be_created_again(dns_stack, bind_server):
    client = web_client()
    new_zone = {"name": ZONE, "mname": "ns1", "rname": "hostmaster", "glue": {"ns1": ["192.0.2.1"]}}
    created = client.post("/api/v1/zones", json=new_zone)
    assert created.status_code == 201
    assert wait_for_state(created.json["regeneration_run_id"], TERMINAL, timeout=120) == "successful"
    add_record("www", "A", "192.0.2.80")
    wait_until(settled, 120, "the record to be served")
    old_serial = bind_server.soa_serial(ZONE)
    assert old_serial == zone_row().served_serial

    version = client.get(f"/api/v1/zones/{ZONE}").json["version"]
    deleted = client.delete(f"/api/v1/zones/{ZONE}", headers={"If-Match": f'"{version}"'})
    assert deleted.status_code == 202 and deleted.json["regeneration_run_id"] is not None
    assert wait_for_state(deleted.json["regeneration_run_id"], TERMINAL, timeout=120) == "successful"

    # BIND no longer answers for it; its rows are gone; its history and runs stay.
    query = dns.message.make_query(ZONE, dns.rdatatype.SOA)
    answer = dns.query.udp(query, "127.0.0.1", port=bind_server.port, timeout=2)
    assert answer.rcode() == dns.rcode.REFUSED and not answer.answer
    assert not (bind_server.zone_dir / "example.test.zone").exists()
    assert (bind_server.zone_dir / "example.test.zone.deleted").exists()
    with db.session_scope() as session:
        for table in (Zone, RRset, Record):
            assert session.scalar(select(func.count()).select_from(table)) == 0
        history = session.execute(select(ZoneChange.action, ZoneChange.zone_id).order_by(ZoneChange.id)).all()
        environments = set(session.scalars(select(Environment.name).join(Run, Run.environment_id == Environment.id)))
    assert [action for action, _ in history] == ["zone-create", "create", "create", "create", "zone-delete"]
    assert {zone_id for _, zone_id in history} == {None}
    assert environments == {"example.test"}
    assert {run.state for run in regeneration_runs()} == {"successful"}
    assert client.get(f"/api/v1/zones/{ZONE}").status_code == 404

    # The same name again: a new zone, served afresh.
    again = client.post("/api/v1/zones", json=new_zone)
    assert again.status_code == 201
    assert wait_for_state(again.json["regeneration_run_id"], TERMINAL, timeout=120) == "successful"
    serial, expected = in_db(ZONE)
    assert bind_server.soa_serial(ZONE) == serial == zone_row().served_serial
    assert served(bind_server, ZONE) == expected and ("www", "A", 300, "192.0.2.80") not in expected
    from playdeck import reaper

    assert reaper.reap().regenerations == []  # nothing left to do
