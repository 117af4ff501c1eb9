"""Property: any sequence of accepted operations leaves zones that dnspython and named-checkzone accept
and that hold exactly the DB's records; a refused operation changes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.zone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playdeck import db
from playdeck.dns import export, records, regeneration, zonefile, zones
from playdeck.dns.listing import list_records
from playdeck.errors import Conflict, ValidationError
from tests.dns.conftest import REVERSE_ZONE, ZONE, make_reverse_zone, make_zone

NAMES = ["@", "www", "mail", "ns1", "alias", "_sip._tcp", "*.dev", "sub", "txt", "a.b"]
TARGETS = ["www", "mail", "ns1", "alias", "mx.example.org.", "a.b"]
STRICT_CHECKS = ["-k", "fail", "-n", "fail", "-m", "fail", "-M", "fail", "-S", "fail", "-i", "full"]

values = {
    "A": st.integers(1, 254).map(lambda n: f"192.0.2.{n}"),
    "AAAA": st.integers(1, 0xFFFF).map(lambda n: f"2001:db8::{n:x}"),
    "CNAME": st.sampled_from(TARGETS),
    "MX": st.tuples(st.integers(0, 100), st.sampled_from(TARGETS)).map(lambda p: f"{p[0]} {p[1]}"),
    "SRV": st.tuples(st.integers(0, 65535), st.sampled_from(TARGETS)).map(lambda p: f"1 2 {p[0]} {p[1]}"),
    "NS": st.sampled_from(TARGETS),
    "TXT": st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_categories=["Cc"]), max_size=300),
    "CAA": st.sampled_from(['0 issue "ca.example.net"', '128 iodef "mailto:security@example.test"']),
}
creates = st.sampled_from(sorted(values)).flatmap(
    lambda rtype: st.tuples(
        st.just("create"), st.sampled_from(NAMES), st.just(rtype), values[rtype], st.sampled_from([None, 60, 300])
    )
)
# An edit of the n-th record: one of its fields, to a value drawn for each type (the record's is used).
updates = st.tuples(
    st.just("update"),
    st.integers(0, 50),
    st.sampled_from(["value", "ttl", "name"]),
    st.fixed_dictionaries(values),
    st.sampled_from([0, 1, 3600, 2**31 - 1]),
    st.sampled_from(NAMES),
)
deletes = st.tuples(st.just("delete"), st.integers(0, 50))
operations = st.lists(st.one_of(creates, creates, creates, updates, deletes), min_size=3, max_size=30)


def rows(zone: str) -> list:
    with db.session_scope() as session:
        return export.export_zone(session, zone)["records"]


def render(data: dict) -> str:
    soa = data["soa"]
    lines = [
        f"$ORIGIN {data['zone']}",
        f"$TTL {data['default_ttl']}",
        f"@ IN SOA {soa['mname']} {soa['rname']} {data['serial']} {soa['refresh']} {soa['retry']} "
        f"{soa['expire']} {soa['minimum']}",
    ]
    lines += [f"{r['name']} {r['ttl']} IN {r['type']} {r['value']}" for r in data["records"]]
    return "\n".join(lines) + "\n"


def assert_servable(zone: str, directory: Path) -> None:
    with db.session_scope() as session:
        data = export.export_zone(session, zone)
    # The minimal rendering above pins the export contract; zonefile.render is what the playbook writes.
    for text in (render(data), zonefile.render(data)):
        assert_loads_as_exported(zone, data, text, directory)


def assert_loads_as_exported(zone: str, data: dict, text: str, directory: Path) -> None:
    origin = dns.name.from_text(zone)
    parsed = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)
    served = {
        (name.relativize(origin).to_text(), dns.rdatatype.to_text(rdataset.rdtype), rdataset.ttl, rdata.to_text())
        for name, rdataset in parsed.iterate_rdatasets()
        if rdataset.rdtype != dns.rdatatype.SOA
        for rdata in rdataset
    }
    assert served == {(r["name"], r["type"], r["ttl"], r["value"]) for r in data["records"]}
    path = directory / "zone.db"
    path.write_text(text)
    checked = subprocess.run(
        ["named-checkzone", *STRICT_CHECKS, zone, str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr + text


def run(operation) -> None:
    kind = operation[0]
    with db.session_scope() as session:
        if kind == "create":
            _, name, rtype, value, ttl = operation
            records.create_record(session, ZONE, name=name, rtype=rtype, value=value, ttl=ttl, who="hypothesis")
            return
        existing = sorted(r.id for r in _all_records(session))
        row = records.get_record(session, ZONE, existing[operation[1] % len(existing)])
        if kind == "delete":
            records.delete_record(session, ZONE, row.id, expected_version=row.version, who="hypothesis")
            return
        _, _, field, new_values, new_ttl, new_name = operation
        change = {"value": new_values.get(row.rtype, row.value), "ttl": new_ttl, "name": new_name}[field]
        records.update_record(session, ZONE, row.id, expected_version=row.version, who="hypothesis", **{field: change})


def _all_records(session):
    return list_records(session, ZONE, per_page=500).rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_accepted_operations_always_leave_a_servable_zone_equal_to_the_db(embedded, tmp_path, ops):
    make_zone(auto_ptr=True)
    make_reverse_zone()
    try:
        for operation in ops:
            before = (rows(ZONE), rows(REVERSE_ZONE))
            try:
                run(operation)
            except (ValidationError, Conflict):
                assert (rows(ZONE), rows(REVERSE_ZONE)) == before
        assert_servable(ZONE, tmp_path)
        assert_servable(REVERSE_ZONE, tmp_path)
    finally:
        with db.session_scope() as session:
            for zone in (ZONE, REVERSE_ZONE):
                zones.delete_zone(session, zone, who="hypothesis")
                regeneration.purge_zone(session, zone)
