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


def test_the_api_never_answers_with_a_server_error(fuzzed_app):
    app, token = fuzzed_app
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    fuzzed = []
    for found in schema.get_all_operations():
        operation = found.ok()
        if (operation.method.upper(), operation.path) in NOT_FUZZED:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        no_server_error()
        fuzzed.append((operation.method.upper(), operation.path))
    assert set(fuzzed) == described() - NOT_FUZZED
