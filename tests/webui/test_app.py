"""The app factory and its error handling: JSON under /api/, pages elsewhere, never a traceback."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from playdeck import db
from playdeck.auth.permissions import Action
from playdeck.settings import Settings, get_settings
from tests.conftest import free_port
from webui import access, create_app


def test_max_content_length_follows_the_setting(monkeypatch: pytest.MonkeyPatch, embedded: Settings) -> None:
    monkeypatch.setenv("PLAYDECK_MAX_REQUEST_BYTES", "2048")
    get_settings.cache_clear()
    assert create_app({"TESTING": True}).config["MAX_CONTENT_LENGTH"] == 2048


def test_unknown_api_path_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.is_json
    assert response.json["error"]
    assert response.json["field"] is None


def test_wrong_method_on_the_api_is_a_json_405(client: FlaskClient) -> None:
    response = client.delete("/api/v1/runs")
    assert response.status_code == 405
    assert response.is_json and response.json["error"]


def test_unknown_page_is_an_html_404(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert b"Error 404" in response.data


@pytest.mark.parametrize("path, is_json", [("/api/v1/boom", True), ("/boom", False)])
def test_unexpected_error_is_a_500_without_details(app: Flask, client: FlaskClient, path: str, is_json: bool) -> None:
    @access.rule(Action.READ)
    def boom() -> str:
        raise RuntimeError("secret-internal-detail")

    app.add_url_rule(path, "boom", boom)
    response = client.get(path)
    assert response.status_code == 500
    assert response.is_json is is_json
    assert b"internal server error" in response.data
    assert b"secret-internal-detail" not in response.data
    assert b"Traceback" not in response.data


def test_healthz_is_ok_when_the_database_answers(any_client: FlaskClient) -> None:
    response = any_client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"ok": True}


def test_database_down_is_503(monkeypatch: pytest.MonkeyPatch, app: Flask, client: FlaskClient) -> None:
    # Nothing listens on a free port: the database is down.
    monkeypatch.setenv("PLAYDECK_DATABASE_URL", f"mysql+pymysql://root@127.0.0.1:{free_port()}/playdeck")
    get_settings.cache_clear()
    db.reset_engine()

    health = app.test_client().get("/healthz")  # as a monitor asks: without a login
    assert health.status_code == 503
    assert health.json["ok"] is False

    api = client.get("/api/v1/projects")
    assert api.status_code == 503
    assert "database is not available" in api.json["error"]
