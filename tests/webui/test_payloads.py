"""Every JSON body is held to the same limits before a service sees it: a string that is not valid Unicode (a
lone surrogate, which JSON's "\\ud800" escape makes) and nesting deeper than 20 levels are a 400 naming the
field, never a 500, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from playdeck.inputs import MAX_DEPTH
from tests.conftest import free_extra_vars

LONE = "\\ud800"
RUN = '{"project": "sampleapp", "environment": "staging", '


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/v1/tokens", f'{{"name": "laptop{LONE}"}}', "name"),
        ("patch", "/api/v1/users/admin", f'{{"password": "long enough {LONE} password"}}', "password"),
        ("post", "/api/v1/users", f'{{"name": "bob", "role": "viewer", "password": "pass {LONE} word!"}}', "password"),
        ("post", "/api/v1/runs", RUN + f'"extra_vars": {{"greeting": ["hi {LONE}"]}}}}', "extra_vars"),
        ("post", "/api/v1/runs", RUN + f'"extra_vars": {{"a{LONE}": 1}}}}', "extra_vars"),
        ("post", "/api/v1/runs", RUN + f'"version": "1.0{LONE}"}}', "version"),
        ("post", "/api/v1/projects/sampleapp/webhooks", f'{{"url": "https://hooks.example/{LONE}"}}', "url"),
        ("patch", "/api/v1/projects/sampleapp/environments/production", f'{{"known_hosts": "h{LONE}"}}', "known_hosts"),
        ("put", "/api/v1/projects/sampleapp/secrets/vault_password", f'{{"value": "vault{LONE}pw"}}', "value"),
        ("post", "/api/v1/zones", f'{{"name": "example.test", "mname": "ns1", "rname": "h{LONE}"}}', "rname"),
        ("post", "/api/v1/tokens", f'{{"na{LONE}me": "laptop"}}', "body"),
    ],
)
def test_a_lone_surrogate_anywhere_is_a_400(client: FlaskClient, method: str, path: str, body: str, field: str):
    before = client.get("/api/v1/audit").json
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert (response.status_code, response.json["field"]) == (400, field), response.get_data(as_text=True)
    assert "lone surrogate" in response.json["error"]
    assert client.get("/api/v1/audit").json == before


def nested(depth: int) -> dict:
    value: object = "deep"
    for _ in range(depth):
        value = {"a": value}
    return value  # type: ignore[return-value]


def test_json_nested_deeper_than_the_limit_is_a_400(client: FlaskClient):
    free_extra_vars()  # the sample's launch form would refuse the variable before its depth is looked at
    # The body is level 1, so extra_vars may hold MAX_DEPTH - 1 levels.
    fits = {"project": "sampleapp", "environment": "staging", "extra_vars": nested(MAX_DEPTH - 1)}
    assert client.post("/api/v1/runs", json=fits).status_code == 201
    for depth in (MAX_DEPTH, 500):
        too_deep = {**fits, "extra_vars": nested(depth)}
        response = client.post("/api/v1/runs", json=too_deep)
        assert (response.status_code, response.json["field"]) == (400, "extra_vars")
        assert response.json["error"] == f"extra_vars: is nested more than {MAX_DEPTH - 1} levels deep"
    # Deeper than Python's parser goes: still a 400.
    response = client.post("/api/v1/runs", data="[" * 100_000, content_type="application/json")
    assert (response.status_code, response.json["field"]) == (400, "body")
    assert len(client.get("/api/v1/runs").json["runs"]) == 1


def test_lists_count_as_levels_too(client: FlaskClient):
    body = json.dumps({"project": "sampleapp", "environment": "staging", "tags": [[[["x"]]]] * 1})
    response = client.post("/api/v1/runs", data=body, content_type="application/json")
    assert (response.status_code, response.json["field"]) == (400, "tags")  # a tag must be a name
    deep_list: object = 1
    for _ in range(MAX_DEPTH):
        deep_list = [deep_list]
    response = client.post("/api/v1/runs", json={"project": "sampleapp", "environment": "staging", "tags": deep_list})
    assert response.json["error"] == f"tags: is nested more than {MAX_DEPTH - 1} levels deep"
