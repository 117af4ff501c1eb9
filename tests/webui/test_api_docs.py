"""``/api/docs``: every operation of the OpenAPI description, readable in a browser, for logged-in users."""

from __future__ import annotations

import html

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import as_user
from webui.api_docs import resolve
from webui.openapi import spec


def test_the_docs_page_shows_every_operation_with_its_parameters_and_schemas(client: FlaskClient):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = html.unescape(page.get_data(as_text=True))
    for path, item in spec()["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                assert f"{method.upper()} {path}" in text
                assert item[method]["summary"] in text
    # A $ref'd schema and parameter are shown resolved, where they are used.
    assert "additionalProperties: false" in text and "webhook_id" in text
    assert 'href="/api/v1/openapi.json"' in text
    assert "<script" not in text


def test_a_viewer_reads_the_docs_and_an_anonymous_caller_does_not(app: Flask):
    anonymous = app.test_client()
    # A page, not the JSON API: a browser that is not logged in is sent to the login page.
    response = anonymous.get("/api/docs")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert anonymous.get("/api/docs", headers=as_user("v", "viewer")).status_code == 200


def test_references_resolve_and_a_cycle_does_not_hang():
    document = {"components": {"schemas": {"A": {"properties": {"b": {"$ref": "#/components/schemas/A"}}}}}}
    resolved = resolve({"$ref": "#/components/schemas/A"}, document)
    assert "properties" in resolved
