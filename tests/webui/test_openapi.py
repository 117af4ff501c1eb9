"""The API's OpenAPI description matches the app (every API route described, nothing described that does
not exist), and a fuzz run of every described operation (schemathesis: generated valid and invalid
inputs, as an admin so no request stops at 403) finds no server error."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import schemathesis
from cryptography.fernet import Fernet
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from playdeck.db import session_scope
from playdeck.dns import records, zones
from tests.conftest import configure, make_user
from webui import create_app
from webui.openapi import spec

# Streams until the run ends: a fuzzer's request for a queued run would never return.
NOT_FUZZED = {("GET", "/api/v1/runs/{run_id}/stream")}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
# Generated requests per operation (valid and invalid inputs).
EXAMPLES = 30
# What the schema's strategies never draw, put by the fuzzer in place of one generated string: a lone
# surrogate (JSON's "\ud800" escape), a trailing newline, "@file"; in a query parameter, times that overflow
# once moved to UTC or lie outside a database's range, and control characters (a URL cannot carry a surrogate).
HOSTILE_BODY_TEXT = ("\ud800", "a\udfffb", "name\n", "@deploy.yml", "x" * 5000)
HOSTILE_QUERY_TEXT = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01", "1.0\n", "a\x00b")


def described() -> set[tuple[str, str]]:
    return {
        (method.upper(), path) for path, item in spec()["paths"].items() for method in item if method.upper() in METHODS
    }


def routed(app: Flask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule == "/healthz") or rule.endpoint == "openapi.openapi_json":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        found |= {(method, path) for method in rule.methods & METHODS}
    return found


def test_every_api_route_is_described_and_every_description_routed(embedded):
    app = create_app({"TESTING": True})
    assert routed(app) == described()
    served = app.test_client().get("/api/v1/openapi.json")  # no login needed
    assert served.status_code == 200 and served.json["openapi"].startswith("3.")


@pytest.fixture
def fuzzed_app(monkeypatch, tmp_path) -> Iterator[tuple[Flask, str]]:
    """The embedded services (with a secrets key) and a zone, a record and a run to find (so ids 1 exist)."""
    configure(monkeypatch, data_dir=str(tmp_path / "data"), secret_key=Fernet.generate_key().decode())
    token = make_user("fuzzer", "admin")
    with session_scope() as session:
        zones.create_zone(
            session, "example.test", mname="ns1", rname="hostmaster", glue={"ns1": ["192.0.2.1"]}, who="fuzzer"
        )
        records.create_record(session, "example.test", name="www", rtype="A", value="192.0.2.10", who="fuzzer")
    app = create_app({"TESTING": True})
    client = app.test_client()
    client.post(
        "/api/v1/runs",
        json={"project": "sampleapp", "environment": "staging"},
        headers={"Authorization": f"Bearer {token}"},
    )
    yield app, token


def declared_query(method: str, path: str) -> list[str]:
    parameters = spec()["paths"][path][method.lower()].get("parameters", [])
    return [parameter["name"] for parameter in parameters if parameter.get("in") == "query"]


def text_slots(value: object) -> list[tuple[dict | list, object]]:
    """Where ``value`` (a JSON body) holds a string: (container, key or index) pairs."""
    found: list[tuple[dict | list, object]] = []
    pairs = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in pairs:
        if isinstance(item, str):
            found.append((value, key))  # type: ignore[arg-type]
        else:
            found += text_slots(item)
    return found


def hostile(case, query_names: list[str], where: int, which: int) -> None:
    """Put a hostile value in place of one string of the body, or in one declared query parameter."""
    slots = text_slots(case.body)
    if slots and (where % 2 or not query_names):
        container, key = slots[where % len(slots)]
        container[key] = HOSTILE_BODY_TEXT[which % len(HOSTILE_BODY_TEXT)]  # type: ignore[index]
    elif query_names:
        case.query = {**(case.query or {}), query_names[where % len(query_names)]: HOSTILE_QUERY_TEXT[which % 5]}


def test_the_api_never_answers_with_a_server_error(fuzzed_app):
    app, token = fuzzed_app
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    fuzzed = []
    for found in schema.get_all_operations():
        operation = found.ok()
        if (operation.method.upper(), operation.path) in NOT_FUZZED:
            continue

        @given(case=operation.as_strategy(), twist=st.none() | st.tuples(st.integers(0, 99), st.integers(0, 99)))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case, twist) -> None:
            if twist is not None:
                hostile(case, declared_query(case.operation.method, case.operation.path), *twist)
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        no_server_error()
        fuzzed.append((operation.method.upper(), operation.path))
    assert set(fuzzed) == described() - NOT_FUZZED
