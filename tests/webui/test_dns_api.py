"""/api/v1/zones: zones and records through the JSON API, versions, hostile input, pages of records,
import, export, history, and the regeneration runs the changes queue."""

from __future__ import annotations

from typing import Any

import dns.name
import dns.rdatatype
import dns.zone
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from playdeck import db
from playdeck.dns import changes, regeneration, scheduling
from playdeck.dns.changes import ChangeSet
from playdeck.dns.models import Record, Zone, ZoneChange
from playdeck.dns.scheduling import DNS_PLAYBOOK, DNS_PROJECT
from playdeck.dns.validation import record
from playdeck.errors import ValidationError
from playdeck.models import Environment, Project, Run
from playdeck.settings import Settings
from tests.conftest import as_user

ZONE = "example.test."
ZONES = "/api/v1/zones"
RECORDS = f"{ZONES}/{ZONE}/records"
NEW_ZONE = {"name": "example.test", "mname": "ns1", "rname": "hostmaster@example.test", "glue": {"ns1": ["192.0.2.1"]}}


@pytest.fixture
def dns_ready(embedded: Settings) -> Settings:
    """The embedded services; regeneration runs are queued in its broker (no worker runs them here)."""
    assert (embedded.playbook_dir / DNS_PLAYBOOK).is_file()
    return embedded


def create_zone(client: FlaskClient) -> str:
    response = client.post(ZONES, json=NEW_ZONE, headers=as_user("alice"))
    assert response.status_code == 201, response.json
    return ZONE


@pytest.fixture
def zone(client: FlaskClient, dns_ready: Settings) -> str:
    return create_zone(client)


def add(client: FlaskClient, name: str, rtype: str, value: str, zone: str = ZONE, **fields: Any) -> dict[str, Any]:
    response = client.post(f"{ZONES}/{zone}/records", json={"name": name, "type": rtype, "value": value, **fields})
    assert response.status_code == 201, response.json
    return response.json


def bulk_add(specs: list[tuple[str, str, str]], zone: str = ZONE) -> None:
    """Many records in one service call (the API would take a request each)."""
    with db.session_scope() as session:
        locked = changes.lock_zone(session, zone)
        origin = dns.name.from_text(zone)
        adds = [record(origin, "forward", name=n, rtype=t, value=v) for n, t, v in specs]
        changes.apply(session, locked, ChangeSet(adds=adds), who="bulk")


def stored(zone: str = ZONE) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    with db.session_scope() as session:
        found = session.scalar(select(Zone).where(Zone.name == zone))
        return {
            "change_seq": found.change_seq,
            "version": found.version,
            "records": sorted(
                session.execute(
                    select(
                        Record.id, Record.name, Record.rtype, Record.ttl, Record.value, Record.comment, Record.version
                    ).where(Record.zone_id == found.id)
                ).all()
            ),
            "history": session.scalar(select(func.count()).select_from(ZoneChange)),
        }


def queued_regenerations(zone: str = ZONE) -> list[int]:
    with db.session_scope() as session:
        return list(
            session.scalars(
                select(Run.id)
                .join(Project, Project.id == Run.project_id)
                .join(Environment, Environment.id == Run.environment_id)
                .where(Project.name == DNS_PROJECT, Environment.name == zone.rstrip("."), Run.state == "queued")
            )
        )


def mark_served(zone: str = ZONE, run_id: int | None = None, error: str | None = None) -> None:
    """What a successful (or failed) regeneration run records on the zone."""
    with db.session_scope() as session:
        started = regeneration.begin_regeneration(session, zone, run_id=run_id)
    with db.session_scope() as session:
        served = None if error else started.serial
        regeneration.finish_regeneration(
            session, zone, change_seq=started.change_seq, served_serial=served, run_id=run_id, error=error
        )


# --- zones ---------------------------------------------------------------------------------------


def test_a_created_zone_is_listed_with_its_status_and_queued_regeneration(client: FlaskClient, zone: str) -> None:
    listed = client.get(ZONES).json["zones"]
    assert [z["name"] for z in listed] == [ZONE]
    created = listed[0]
    assert created["kind"] == "forward" and created["record_count"] == 2
    assert created["served_serial"] is None and created["dirty"] is True and created["status"] == "pending"
    assert created["settings"]["mname"] == "ns1.example.test."
    assert created["settings"]["rname"] == "hostmaster.example.test."
    (run_id,) = queued_regenerations()
    assert created["active_run"]["id"] == run_id and created["active_run"]["page"] == f"/runs/{run_id}"
    assert client.get(created["active_run"]["url"]).json["project"] == DNS_PROJECT

    again = client.post(ZONES, json=NEW_ZONE)
    assert again.status_code == 409 and "already exists" in again.json["error"]


def test_zone_status_shows_the_served_serial_and_a_failed_regeneration(client: FlaskClient, zone: str) -> None:
    (run_id,) = queued_regenerations()
    mark_served(run_id=run_id)
    served = client.get(f"{ZONES}/{ZONE}").json
    assert served["status"] == "up to date" and served["served_serial"] == served["serial"] > 0
    assert served["last_run_id"] == run_id and served["last_run"]["url"] == f"/api/v1/runs/{run_id}"

    add(client, "www", "A", "192.0.2.10")
    mark_served(run_id=run_id, error="named-checkzone: example.test/IN: bad owner name")
    failed = client.get(f"{ZONES}/{ZONE}").json
    assert failed["status"] == "failed" and "bad owner name" in failed["last_error"]
    assert failed["served_serial"] == served["serial"] and failed["dirty"]


def test_zone_settings_are_changed_with_their_version(client: FlaskClient, zone: str) -> None:
    got = client.get(f"{ZONES}/{ZONE}")
    assert got.headers["ETag"] == f'"{got.json["version"]}"'

    changed = client.patch(
        f"{ZONES}/{ZONE}", json={"default_ttl": 600, "refresh": 7200}, headers={"If-Match": got.headers["ETag"]}
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["settings"]["default_ttl"] == 600 and changed.json["version"] == got.json["version"] + 1
    assert changed.headers["ETag"] == f'"{changed.json["version"]}"'

    before = stored()
    stale = client.patch(f"{ZONES}/{ZONE}", json={"default_ttl": 60}, headers={"If-Match": got.headers["ETag"]})
    assert stale.status_code == 412 and stale.json["current_version"] == changed.json["version"]
    assert "changed by someone else" in stale.json["error"]
    stale_body = client.patch(f"{ZONES}/{ZONE}", json={"default_ttl": 60, "version": got.json["version"]})
    assert stale_body.status_code == 409 and stale_body.json["field"] == "version"
    unversioned = client.patch(f"{ZONES}/{ZONE}", json={"default_ttl": 60})
    assert unversioned.status_code == 428 and "If-Match" in unversioned.json["error"]
    assert stored() == before
    assert client.get(f"{ZONES}/{ZONE}").json["settings"]["default_ttl"] == 600


def test_a_deleted_zone_is_gone_for_users(client: FlaskClient, zone: str) -> None:
    version = client.get(f"{ZONES}/{ZONE}").json["version"]
    assert client.delete(f"{ZONES}/{ZONE}").status_code == 428
    assert client.delete(f"{ZONES}/{ZONE}?version={version + 5}").status_code == 409
    deleted = client.delete(f"{ZONES}/{ZONE}", headers={"If-Match": f'"{version}"'})
    assert deleted.status_code == 202 and deleted.json["zone"] == ZONE
    assert client.get(ZONES).json["zones"] == []
    assert client.get(f"{ZONES}/{ZONE}").status_code == 404
    assert client.get(RECORDS).status_code == 404
    # Its history stays, with who deleted it.
    history = client.get(f"{ZONES}/{ZONE}/history").json["changes"]
    assert history[0]["action"] == "zone-delete" and history[0]["who"] == "admin"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW_ZONE, "nameservers": "ns1"}, "nameservers"),
        ({**NEW_ZONE, "glue": ["ns1", "192.0.2.1"]}, "glue"),
        ({**NEW_ZONE, "glue": {"ns1": "192.0.2.1"}}, "glue"),
        ({**NEW_ZONE, "owner": "me"}, "owner"),
        ({**NEW_ZONE, "name": "exa mple.test"}, "name"),
        ({**NEW_ZONE, "name": "example.test\n$INCLUDE /etc/passwd"}, "name"),
        ({**NEW_ZONE, "name": ["example.test"]}, "name"),
        ({**NEW_ZONE, "default_ttl": 2**31}, "default_ttl"),
        ({**NEW_ZONE, "serial": "1"}, "serial"),
        ({**NEW_ZONE, "refresh": "\u00b2"}, "refresh"),
        ({**NEW_ZONE, "auto_ptr": "yes"}, "auto_ptr"),
        ({"name": "example.test"}, "mname"),
        ({**NEW_ZONE, "glue": {}}, "glue"),  # ns1 is inside the zone: it needs an address
    ],
)
def test_bad_zones_are_refused(client: FlaskClient, dns_ready: Settings, body: dict, field: str) -> None:
    response = client.post(ZONES, json=body)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field and response.json["error"]
    assert client.get(ZONES).json["zones"] == []


# --- records -------------------------------------------------------------------------------------


def test_record_round_trip(client: FlaskClient, zone: str) -> None:
    created = client.post(
        RECORDS,
        json={"name": "WWW", "type": "mx", "value": "10 Mail", "ttl": 300, "comment": "mail"},
        headers=as_user("bob"),
    )
    assert created.status_code == 400 and "address" in created.json["error"]  # mail has no A record yet
    add(client, "mail", "A", "192.0.2.25")
    created = client.post(RECORDS, json={"name": "WWW", "type": "mx", "value": "10 Mail", "ttl": 300})
    assert created.status_code == 201, created.json
    made = created.json
    assert (made["name"], made["type"], made["ttl"], made["value"], made["version"]) == (
        "www", "MX", 300, "10 mail.example.test.", 1
    )  # fmt: skip
    assert created.headers["Location"] == made["url"] == f"{RECORDS}/{made['id']}"

    got = client.get(made["url"])
    assert got.json == {key: value for key, value in made.items() if key != "regeneration_run_id"}
    assert got.headers["ETag"] == '"1"'

    patched = client.patch(made["url"], json={"value": "20 mail"}, headers={"If-Match": '"1"'})
    assert patched.status_code == 200, patched.json
    assert patched.json["value"] == "20 mail.example.test." and patched.json["version"] == 2
    assert patched.json["ttl"] == 300 and patched.headers["ETag"] == '"2"'

    put = client.put(made["url"], json={"name": "www", "type": "MX", "value": "30 mail", "version": 2})
    assert put.status_code == 200, put.json
    assert (put.json["value"], put.json["comment"], put.json["version"]) == ("30 mail.example.test.", "", 3)

    assert client.delete(made["url"], headers={"If-Match": '"3"'}).status_code == 204
    assert client.get(made["url"]).status_code == 404
    assert client.delete(made["url"], headers={"If-Match": '"3"'}).status_code == 404


def test_a_stale_version_is_refused_and_the_record_stays(client: FlaskClient, zone: str) -> None:
    made = add(client, "www", "A", "192.0.2.10")
    assert client.patch(made["url"], json={"value": "192.0.2.11", "version": 1}).status_code == 200
    before = stored()

    header = client.patch(made["url"], json={"value": "192.0.2.99"}, headers={"If-Match": '"1"'})
    assert header.status_code == 412
    assert header.json["current_version"] == 2 and header.headers["ETag"] == '"2"'
    assert header.json["field"] == "If-Match" and "changed by someone else" in header.json["error"]
    body = client.patch(made["url"], json={"value": "192.0.2.99", "version": 1})
    assert body.status_code == 409 and body.json["field"] == "version"
    assert (
        client.put(made["url"], json={"name": "www", "type": "A", "value": "192.0.2.99", "version": 1}).status_code
        == 409
    )
    assert client.delete(made["url"], headers={"If-Match": '"1"'}).status_code == 412
    assert client.delete(made["url"] + "?version=1").status_code == 409
    missing = client.patch(made["url"], json={"value": "192.0.2.99"})
    assert missing.status_code == 428 and missing.json["field"] == "If-Match"
    assert client.delete(made["url"]).status_code == 428
    conflicting = client.patch(made["url"], json={"value": "192.0.2.99", "version": 2}, headers={"If-Match": '"1"'})
    assert conflicting.status_code == 400 and conflicting.json["field"] == "version"

    assert stored() == before
    assert client.get(made["url"]).json["value"] == "192.0.2.11"


def test_if_match_star_overwrites_on_purpose(client: FlaskClient, zone: str) -> None:
    made = add(client, "www", "A", "192.0.2.10")
    client.patch(made["url"], json={"value": "192.0.2.11", "version": 1})
    forced = client.patch(made["url"], json={"value": "192.0.2.12"}, headers={"If-Match": "*"})
    assert forced.status_code == 200 and forced.json["value"] == "192.0.2.12" and forced.json["version"] == 3


HOSTILE_RECORDS = [
    # (what, body or raw request, status, field)
    ("not JSON", b"{name: www}", 400, "body"),
    ("a list", b'[{"name": "www", "type": "A", "value": "192.0.2.1"}]', 400, "body"),
    ("a string", b'"www A 192.0.2.1"', 400, "body"),
    ("null", b"null", 400, "body"),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000, 400, "body"),
    ("unknown field", {"name": "www", "type": "A", "value": "192.0.2.1", "zone": "other.test."}, 400, "zone"),
    ("missing value", {"name": "www", "type": "A"}, 400, "value"),
    ("name not text", {"name": 5, "type": "A", "value": "192.0.2.1"}, 400, "name"),
    ("type not text", {"name": "www", "type": 1, "value": "192.0.2.1"}, 400, "type"),
    ("value a list", {"name": "www", "type": "A", "value": ["192.0.2.1"]}, 400, "value"),
    ("ttl text", {"name": "www", "type": "A", "value": "192.0.2.1", "ttl": "5m"}, 400, "ttl"),
    ("ttl bool", {"name": "www", "type": "A", "value": "192.0.2.1", "ttl": True}, 400, "ttl"),
    ("ttl negative", {"name": "www", "type": "A", "value": "192.0.2.1", "ttl": -1}, 400, "ttl"),
    ("ttl over 2^31-1", {"name": "www", "type": "A", "value": "192.0.2.1", "ttl": 2**31}, 400, "ttl"),
    ("ttl float", {"name": "www", "type": "A", "value": "192.0.2.1", "ttl": 30.5}, 400, "ttl"),
    ("ttl in superscript digits", {"name": "www", "type": "A", "value": "192.0.2.1", "ttl": "\u00b2"}, 400, "ttl"),
    ("comment not text", {"name": "www", "type": "A", "value": "192.0.2.1", "comment": {}}, 400, "comment"),
    (
        "$INCLUDE after a newline in a value",
        {"name": "www", "type": "A", "value": "192.0.2.1\n$INCLUDE /etc/passwd"},
        400,
        "value",
    ),
    (
        "$INCLUDE after a newline in a name",
        {"name": "www\n$INCLUDE /etc/passwd", "type": "A", "value": "192.0.2.1"},
        400,
        "name",
    ),
    ("$INCLUDE as a name", {"name": "$INCLUDE", "type": "TXT", "value": "/etc/passwd"}, 400, "name"),
    ("newline in TXT", {"name": "www", "type": "TXT", "value": "line one\nline two"}, 400, "value"),
    (
        "carriage return in a comment",
        {"name": "www", "type": "A", "value": "192.0.2.1", "comment": "a\rb"},
        400,
        "comment",
    ),
    ("NUL in a name", {"name": "w\x00w", "type": "A", "value": "192.0.2.1"}, 400, "name"),
    ("escape sequence in a value", {"name": "www", "type": "TXT", "value": "\x1b[31mred"}, 400, "value"),
    ("unicode line separator", {"name": "www", "type": "TXT", "value": "a\u2028b"}, 400, "value"),
    ("semicolon starting a comment", {"name": "www", "type": "MX", "value": "10 mail ; x"}, 400, "value"),
    ("parenthesis", {"name": "www", "type": "CAA", "value": '0 issue "ca.test" ('}, 400, "value"),
    ("oversize value", {"name": "www", "type": "TXT", "value": "x" * 9000}, 400, "value"),
    ("oversize label", {"name": "a" * 64, "type": "A", "value": "192.0.2.1"}, 400, "name"),
    ("oversize name", {"name": ".".join(["a" * 60] * 5), "type": "A", "value": "192.0.2.1"}, 400, "name"),
    ("oversize comment", {"name": "www", "type": "A", "value": "192.0.2.1", "comment": "c" * 256}, 400, "comment"),
    ("out of zone", {"name": "www.other.test.", "type": "A", "value": "192.0.2.1"}, 400, "name"),
    ("bad label", {"name": "we b", "type": "A", "value": "192.0.2.1"}, 400, "name"),
    ("wildcard inside", {"name": "a.*.b", "type": "A", "value": "192.0.2.1"}, 400, "name"),
    ("IPv6 in an A", {"name": "www", "type": "A", "value": "2001:db8::1"}, 400, "value"),
    ("MX at an IP", {"name": "@", "type": "MX", "value": "10 192.0.2.1"}, 400, "value"),
    ("CNAME at the apex", {"name": "@", "type": "CNAME", "value": "www"}, 400, "name"),
    ("CNAME beside an A", {"name": "ns1", "type": "CNAME", "value": "www.other.test."}, 400, "name"),
    ("unsupported type", {"name": "www", "type": "HINFO", "value": "a b"}, 400, "type"),
    ("PTR in a forward zone", {"name": "www", "type": "PTR", "value": "x.test."}, 400, "type"),
    ("duplicate", {"name": "ns1", "type": "A", "value": "192.0.2.1"}, 409, None),
]


@pytest.mark.parametrize(
    ("body", "status", "field"), [case[1:] for case in HOSTILE_RECORDS], ids=[case[0] for case in HOSTILE_RECORDS]
)
def test_hostile_records_are_refused_and_nothing_is_stored(
    client: FlaskClient, zone: str, body: Any, status: int, field: str | None
) -> None:
    before = stored()
    if isinstance(body, bytes):
        response = client.post(RECORDS, data=body, content_type="application/json")
    else:
        response = client.post(RECORDS, json=body)
    assert response.status_code == status, response.json
    assert response.json["error"] and response.json["field"] == field
    assert stored() == before


@pytest.mark.parametrize(
    ("request_options", "status"),
    [
        ({"data": {"name": "www", "type": "A", "value": "192.0.2.1"}}, 415),  # a form, e.g. cross-site
        ({"data": "name=www", "content_type": "text/plain"}, 415),
        ({"json": {"name": "www", "type": "A", "value": "192.0.2.1"}, "headers": {"Origin": "http://evil.test"}}, 403),
        ({"json": {"name": "www", "type": "A", "value": "192.0.2.1", "pad": "x" * (2 << 20)}}, 413),
    ],
    ids=["form", "text", "cross-site", "oversize body"],
)
def test_requests_of_the_wrong_shape_are_refused(
    client: FlaskClient, zone: str, request_options: dict, status: int
) -> None:
    before = stored()
    response = client.post(RECORDS, **request_options)
    assert response.status_code == status and response.json["error"]
    assert stored() == before


def test_edits_refuse_hostile_values_too(client: FlaskClient, zone: str) -> None:
    made = add(client, "www", "A", "192.0.2.10")
    before = stored()
    for body in (
        {"value": "192.0.2.1\n$INCLUDE /etc/passwd", "version": 1},
        {"name": "www.other.test.", "version": 1},
        {"ttl": "never", "version": 1},
        {"version": "one"},
        {"version": "\u00b2"},
        {"ttl": "\u0661", "version": 1},  # an Arabic-Indic digit
        {"version": True},
        {"owner": "x", "version": 1},
    ):
        response = client.patch(made["url"], json=body)
        assert response.status_code == 400, (body, response.json)
    assert client.patch(made["url"], json={"value": "x"}, headers={"If-Match": "W/1, garbage"}).status_code == 400
    assert client.get(f"{RECORDS}/{2**70}").status_code == 404
    assert client.get(f"{ZONES}/no..such/records").status_code == 404
    assert stored() == before


# --- the record table ----------------------------------------------------------------------------


@pytest.fixture
def filled(client: FlaskClient, zone: str) -> list[tuple[str, str, str]]:
    """300 records besides the zone's own two: A and TXT at host000..host149."""
    specs = [(f"host{i:03d}", "A", f"192.0.2.{i % 250 + 1}") for i in range(150)]
    specs += [(f"host{i:03d}", "TXT", f"note {i}") for i in range(150)]
    bulk_add(specs)
    return specs


def walk(client: FlaskClient, url: str) -> list[dict[str, Any]]:
    rows, pages = [], 0
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.json
        rows += page.json["records"]
        url = page.json["next"]
        pages += 1
        assert pages < 100
    return rows


def test_pages_of_records_cover_the_zone_once_in_order(client: FlaskClient, filled: list) -> None:
    first = client.get(f"{RECORDS}?per_page=37").json
    assert first["record_count"] == 302 and len(first["records"]) == 37 and first["has_next"]
    assert "after=" in first["next"] and "per_page=37" in first["next"]

    rows = walk(client, f"{RECORDS}?per_page=37")
    keys = [(row["name"], row["type"]) for row in rows]
    assert len(rows) == 302 and len({row["id"] for row in rows}) == 302
    assert keys == sorted(keys)
    assert rows[0]["name"] == "@" and rows[-1] == {**rows[-1], "name": "ns1", "type": "A"}

    descending = walk(client, f"{RECORDS}?per_page=50&order=desc")
    assert [row["id"] for row in descending] == [row["id"] for row in rows][::-1]
    by_type = walk(client, f"{RECORDS}?sort=type&per_page=100")
    assert [(r["type"], r["name"]) for r in by_type] == sorted((r["type"], r["name"]) for r in rows)
    third = client.get(f"{RECORDS}?per_page=20&page=3").json["records"]
    assert [row["id"] for row in third] == [row["id"] for row in rows[40:60]]


def test_search_and_type_filter(client: FlaskClient, filled: list) -> None:
    assert {row["name"] for row in walk(client, f"{RECORDS}?q=HOST14")} == {f"host14{i}" for i in range(10)}
    assert [row["value"] for row in walk(client, f"{RECORDS}?q=note%20123")] == ['"note 123"']
    txt = walk(client, f"{RECORDS}?type=txt&per_page=500")
    assert len(txt) == 150 and {row["type"] for row in txt} == {"TXT"}
    found = walk(client, f"{RECORDS}?q=host1&type=A&per_page=7")
    assert len(found) == 50 and all(r["name"].startswith("host1") and r["type"] == "A" for r in found)
    assert walk(client, f"{RECORDS}?q=%25") == []  # LIKE wildcards are searched for literally


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=501", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=x", "per_page"),
        ("per_page=%C2%B2", "per_page"),  # "²" is a digit to str.isdigit, not to int()
        ("page=0", "page"),
        ("after=garbage", "after"),
        ("sort=comment", "sort"),
        ("order=sideways", "order"),
        ("type=HINFO", "type"),
        ("q=a%0Ab", "q"),
        ("q=" + "x" * 300, "q"),
        ("search=www", "search"),
    ],
)
def test_bad_list_parameters_are_a_400(client: FlaskClient, zone: str, query: str, field: str) -> None:
    response = client.get(f"{RECORDS}?{query}")
    assert response.status_code == 400, response.json
    assert response.json["field"] == field and response.json["error"]


# --- import and export ---------------------------------------------------------------------------

ZONE_FILE = """$ORIGIN example.test.
$TTL 3600
@       IN SOA ns1 hostmaster 2026010100 3600 600 1209600 300
@       IN NS  ns1
ns1     IN A   192.0.2.1
www 300 IN A   192.0.2.10
www 300 IN A   192.0.2.11
mail    IN A   192.0.2.25
@       IN MX  10 mail
txt     IN TXT "hello world"
"""


def test_import_is_previewed_then_applied(client: FlaskClient, zone: str) -> None:
    old = add(client, "old", "A", "192.0.2.99")
    add(client, "www", "A", "192.0.2.10", ttl=60)
    url = f"{ZONES}/{ZONE}/import"
    before = stored()

    preview = client.post(f"{url}?preview=true", json={"zonefile": ZONE_FILE})
    assert preview.status_code == 200, preview.json
    found = preview.json
    assert sorted((r["name"], r["type"], r["value"]) for r in found["adds"]) == [
        ("@", "MX", "10 mail.example.test."),
        ("mail", "A", "192.0.2.25"),
        ("txt", "TXT", '"hello world"'),
        ("www", "A", "192.0.2.11"),
    ]
    assert [(r["id"], r["name"]) for r in found["deletes"]] == [(old["id"], "old")]
    assert found["ttl_changes"] == [{"name": "www", "type": "A", "old": 60, "new": 300}]
    assert found["unchanged"] == 3 and found["file_serial"] == 2026010100
    assert stored() == before  # a preview writes nothing

    assert client.post(url, json={"zonefile": ZONE_FILE}).status_code == 428
    applied = client.post(
        url,
        json={"zonefile": ZONE_FILE, "base_change_seq": found["base_change_seq"]},
        headers=as_user("imp"),
    )
    assert applied.status_code == 200, applied.json
    assert applied.json["applied"] and len(applied.json["adds"]) == 4
    rows = walk(client, f"{RECORDS}?per_page=500")
    assert sorted((r["name"], r["type"], r["ttl"], r["value"]) for r in rows) == [
        ("@", "MX", 3600, "10 mail.example.test."),
        ("@", "NS", 3600, "ns1.example.test."),
        ("mail", "A", 3600, "192.0.2.25"),
        ("ns1", "A", 3600, "192.0.2.1"),
        ("txt", "TXT", 3600, '"hello world"'),
        ("www", "A", 300, "192.0.2.10"),
        ("www", "A", 300, "192.0.2.11"),
    ]
    history = client.get(f"{ZONES}/{ZONE}/history").json["changes"]
    assert {change["action"] for change in history[:5]} == {"import"} and history[0]["who"] == "imp"


def test_an_import_based_on_an_old_preview_is_refused(client: FlaskClient, zone: str) -> None:
    url = f"{ZONES}/{ZONE}/import"
    base = client.post(f"{url}?preview=true", json={"zonefile": ZONE_FILE}).json["base_change_seq"]
    add(client, "late", "A", "192.0.2.50")  # someone else's change after the preview
    before = stored()
    stale = client.post(url, json={"zonefile": ZONE_FILE, "base_change_seq": base})
    assert stale.status_code == 409 and stale.json["field"] == "base_change_seq"
    assert stored() == before


def test_import_takes_plain_text_too(client: FlaskClient, zone: str) -> None:
    url = f"{ZONES}/{ZONE}/import"
    preview = client.post(f"{url}?preview=true", data=ZONE_FILE, content_type="text/plain").json
    applied = client.post(
        f"{url}?base_change_seq={preview['base_change_seq']}", data=ZONE_FILE, content_type="text/plain"
    )
    assert applied.status_code == 200, applied.json
    assert client.get(f"{ZONES}/{ZONE}").json["record_count"] == 7


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("$INCLUDE /etc/passwd\n", "INCLUDE"),
        ("$GENERATE 1-10 host$ A 192.0.2.$\n", "GENERATE"),
        ("$TTL 300\nwww IN A 192.0.2.1\n", "SOA and NS"),
        (ZONE_FILE + "evil.other.test. IN A 192.0.2.1\n", "outside the zone"),
        (ZONE_FILE + "www IN CNAME mail\n", "CNAME"),
        (ZONE_FILE.replace("hello world", "a\x00b"), "control characters"),
        ("", "required"),
    ],
)
def test_bad_zone_files_are_refused_and_nothing_is_imported(
    client: FlaskClient, zone: str, text: str, fragment: str
) -> None:
    before = stored()
    base = client.get(f"{ZONES}/{ZONE}").json["change_seq"]
    for query in ("?preview=true", "?preview=false"):
        response = client.post(f"{ZONES}/{ZONE}/import{query}", json={"zonefile": text, "base_change_seq": base})
        assert response.status_code == 400, response.json
        assert fragment in response.json["error"]
    assert stored() == before


def test_bad_import_requests(client: FlaskClient, zone: str) -> None:
    url = f"{ZONES}/{ZONE}/import"
    assert client.post(url + "?preview=maybe", json={"zonefile": ZONE_FILE}).status_code == 400
    assert client.post(url, json={"zonefile": 5}).json["field"] == "zonefile"
    assert client.post(url, json={"zonefile": ZONE_FILE, "base_change_seq": "x"}).json["field"] == "base_change_seq"
    assert client.post(url, json={"zonefile": ZONE_FILE, "extra": 1}).json["field"] == "extra"
    assert client.post(url, data=b"\xff\xfe", content_type="text/plain").json["field"] == "zonefile"
    assert (
        client.post(url, data=ZONE_FILE, content_type="text/plain", headers={"Origin": "http://evil.test"}).status_code
        == 403
    )


def test_export_is_a_zone_file_dnspython_reads(client: FlaskClient, zone: str) -> None:
    add(client, "www", "A", "192.0.2.10", ttl=300)
    add(client, "www", "TXT", 'say "hi" ; not a comment')
    add(client, "@", "MX", "10 www")
    response = client.get(f"{ZONES}/{ZONE}/export")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    parsed = dns.zone.from_text(response.get_data(as_text=True), origin=ZONE, relativize=False, check_origin=True)
    served = {
        (
            name.relativize(parsed.origin).to_text(),
            dns.rdatatype.to_text(rdataset.rdtype),
            rdataset.ttl,
            rdata.to_text(),
        )
        for name, rdataset in parsed.iterate_rdatasets()
        for rdata in rdataset
        if rdataset.rdtype != dns.rdatatype.SOA
    }
    rows = walk(client, f"{RECORDS}?per_page=500")
    assert served == {(r["name"], r["type"], r["ttl"], r["value"]) for r in rows}


# --- history -------------------------------------------------------------------------------------


def test_history_shows_who_changed_what_before_and_after(client: FlaskClient, zone: str) -> None:
    made = add(client, "www", "A", "192.0.2.10", comment="first")
    client.patch(made["url"], json={"value": "192.0.2.11", "version": 1}, headers=as_user("carol"))
    client.delete(made["url"], headers={"If-Match": '"2"', **as_user("dave")})

    changes = client.get(made["history_url"]).json["changes"]
    assert [(c["action"], c["who"]) for c in changes] == [("delete", "dave"), ("update", "carol"), ("create", "admin")]
    deleted, updated, created = changes
    assert created["before"] == {} and created["after"]["value"] == "192.0.2.10"
    assert updated["before"]["value"] == "192.0.2.10" and updated["after"]["value"] == "192.0.2.11"
    assert updated["after"]["comment"] == "first" and deleted["after"] == {}
    assert deleted["before"]["value"] == "192.0.2.11" and deleted["when"].endswith("+00:00")

    page = client.get(f"{ZONES}/{ZONE}/history?limit=2").json
    assert [c["action"] for c in page["changes"]] == ["delete", "update"]
    pages = [page["changes"]]
    while page["next"]:
        page = client.get(page["next"]).json
        pages.append(page["changes"])
    assert [[c["action"] for c in changes] for changes in pages] == [
        ["delete", "update"],
        ["create", "create"],
        ["create", "zone-create"],
    ]
    zone_created = pages[2][1]
    assert zone_created["who"] == "alice" and zone_created["after"]["mname"] == "ns1.example.test."
    assert client.get(f"{ZONES}/{ZONE}/history?limit=0").status_code == 400
    assert client.get(f"{ZONES}/nosuch.test/history").status_code == 404


# --- regeneration --------------------------------------------------------------------------------


def test_a_burst_of_changes_queues_at_most_one_regeneration(client: FlaskClient, zone: str) -> None:
    assert len(queued_regenerations()) == 1  # the new zone's
    for i in range(5):
        made = add(client, f"h{i}", "A", f"192.0.2.{i + 10}")
        assert made["regeneration_run_id"] is None  # the queued run will export this change too
    assert len(queued_regenerations()) == 1


def test_a_change_after_a_regeneration_queues_one_and_a_comment_none(client: FlaskClient, zone: str) -> None:
    (first,) = queued_regenerations()
    made = add(client, "www", "A", "192.0.2.10")
    with db.session_scope() as session:  # the first run starts: nothing is queued any more
        session.get(Run, first).state = "running"
    mark_served(run_id=first)
    assert queued_regenerations() == []

    commented = client.patch(made["url"], json={"comment": "web server", "version": 1})
    assert commented.status_code == 200 and commented.json["regeneration_run_id"] is None
    assert queued_regenerations() == []  # a comment is not in the zone file
    assert client.get(f"{ZONES}/{ZONE}").json["status"] == "up to date"

    changed = client.patch(made["url"], json={"ttl": 60, "version": 2})
    assert queued_regenerations() == [changed.json["regeneration_run_id"]]
    assert client.get(f"{ZONES}/{ZONE}").json["status"] == "pending"


def test_an_automatic_ptr_queues_its_reverse_zone_with_the_change(client: FlaskClient, zone: str) -> None:
    reverse = {**NEW_ZONE, "name": "2.0.192.in-addr.arpa", "mname": "ns1.example.test.", "glue": {}}
    assert client.post(ZONES, json=reverse).status_code == 201
    version = client.get(f"{ZONES}/{ZONE}").json["version"]
    assert client.patch(f"{ZONES}/{ZONE}", json={"auto_ptr": True, "version": version}).status_code == 200
    mark_served(ZONE)
    mark_served("2.0.192.in-addr.arpa.")
    for run_id in queued_regenerations() + queued_regenerations("2.0.192.in-addr.arpa."):
        with db.session_scope() as session:  # as if they ran
            session.get(Run, run_id).state = "successful"

    made = add(client, "www", "A", "192.0.2.10")
    assert queued_regenerations() == [made["regeneration_run_id"]]
    # The PTR's zone gets its run in the same transaction, not a reaper's pass later.
    assert len(queued_regenerations("2.0.192.in-addr.arpa.")) == 1
    assert client.get(f"{ZONES}/2.0.192.in-addr.arpa/records?q=10").json["records"][0]["value"] == "www.example.test."


def test_a_change_is_kept_when_no_run_can_be_queued(
    client: FlaskClient, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DB's dirty marker is the truth: a run that cannot be queued is not the user's error and does
    not undo the change (the reaper queues the run the change did not get)."""

    def refuse(session: object, request: object) -> None:
        raise ValidationError("playbook", "'dns-zone.yml' not found")

    monkeypatch.setattr(scheduling, "request_run", refuse)
    made = client.post(RECORDS, json={"name": "www", "type": "A", "value": "192.0.2.10"})
    assert made.status_code == 201 and made.json["regeneration_run_id"] is None
    assert client.get(made.json["url"]).status_code == 200
    assert client.get(f"{ZONES}/{ZONE}").json["dirty"] is True


@pytest.fixture
def many_zones(client: FlaskClient, dns_ready: Settings) -> list[str]:
    names = [f"z{i}.test." for i in range(3)]
    for name in names:
        body = {**NEW_ZONE, "name": name, "glue": {f"ns1.{name}": ["192.0.2.1"]}, "mname": f"ns1.{name}"}
        assert client.post(ZONES, json=body).status_code == 201
    return names


def test_zones_are_listed_by_name_each_with_its_own_run(client: FlaskClient, many_zones: list[str]) -> None:
    listed = client.get(ZONES).json["zones"]
    assert [z["name"] for z in listed] == many_zones
    assert len({z["active_run"]["id"] for z in listed}) == 3


def test_the_api_works_alike_on_sqlite_and_mariadb(any_client: FlaskClient, services: Settings) -> None:
    """Versions, keyset pages, search and import on both databases (row locks on MariaDB)."""
    client = any_client
    create_zone(client)
    made = add(client, "www", "A", "192.0.2.10")
    assert client.patch(made["url"], json={"value": "192.0.2.11"}, headers={"If-Match": '"1"'}).status_code == 200
    assert client.patch(made["url"], json={"value": "192.0.2.12"}, headers={"If-Match": '"1"'}).status_code == 412
    bulk_add([(f"h{i:03d}", "A", "192.0.2.5") for i in range(120)])
    rows = walk(client, f"{RECORDS}?per_page=17")
    assert len(rows) == 123 and [(r["name"], r["type"]) for r in rows] == sorted((r["name"], r["type"]) for r in rows)
    assert len(walk(client, f"{RECORDS}?q=H01")) == 10
    preview = client.post(f"{ZONES}/{ZONE}/import?preview=true", json={"zonefile": ZONE_FILE}).json
    body = {"zonefile": ZONE_FILE, "base_change_seq": preview["base_change_seq"]}
    assert client.post(f"{ZONES}/{ZONE}/import", json=body).status_code == 200
    listed = client.get(ZONES).json["zones"][0]
    assert listed["record_count"] == 7 and listed["active_run"]["state"] == "queued"
    assert len(queued_regenerations()) == 1
