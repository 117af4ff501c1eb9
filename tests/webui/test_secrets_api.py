"""Admins set project secrets through the API: stored encrypted, listed masked, never answered back, and
refused to everyone else; a secret set without a key configured is a clear 503, nothing stored."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from sqlalchemy import select

from playdeck import db
from playdeck.models import Secret
from tests.conftest import authorize, configure
from webui import create_app

SECRETS = "/api/v1/projects/sampleapp/secrets"
PASSWORD = "s3cret become password"


@pytest.fixture
def admin(monkeypatch, tmp_path) -> FlaskClient:
    configure(monkeypatch, data_dir=str(tmp_path / "data"), secret_key=Fernet.generate_key().decode())
    client = create_app({"TESTING": True}).test_client()
    authorize(client, "root", "admin")
    return client


def test_an_admin_sets_lists_and_deletes_a_secret_that_is_never_shown(admin: FlaskClient):
    made = admin.put(f"{SECRETS}/become_password?environment=production", json={"value": PASSWORD})
    assert made.status_code == 200, made.json
    assert PASSWORD not in made.get_data(as_text=True) and made.json["environment"] == "production"
    listed = admin.get(SECRETS)
    assert [(s["kind"], s["environment"], s["updated_by"]) for s in listed.json["secrets"]] == [
        ("become_password", "production", "root")
    ]
    assert PASSWORD not in listed.get_data(as_text=True)
    with db.session_scope() as session:
        stored = session.scalar(select(Secret.ciphertext))
    assert PASSWORD not in stored
    assert admin.delete(f"{SECRETS}/become_password?environment=production").status_code == 204
    assert admin.get(SECRETS).json["secrets"] == []


@pytest.mark.parametrize(
    ("url", "body", "status"),
    [
        (f"{SECRETS}/root_password", {"value": "x" * 12}, 400),
        (f"{SECRETS}/become_password", {"value": ""}, 400),
        (f"{SECRETS}/become_password", {"value": PASSWORD, "note": "extra"}, 400),
        (f"{SECRETS}/ssh_key", {"value": "not a key"}, 400),
        (f"{SECRETS}/become_password?environment=nosuch", {"value": PASSWORD}, 404),
        ("/api/v1/projects/nosuch/secrets/become_password", {"value": PASSWORD}, 404),
    ],
)
def test_bad_secrets_are_refused_and_nothing_is_stored(admin: FlaskClient, url, body, status):
    assert admin.put(url, json=body).status_code == status
    assert admin.get(SECRETS).json["secrets"] == []


def test_only_admins_touch_secrets(admin: FlaskClient):
    for role in ("viewer", "developer", "release_manager"):
        authorize(admin, role, role)
        assert admin.get(SECRETS).status_code == 403
        assert admin.put(f"{SECRETS}/become_password", json={"value": PASSWORD}).status_code == 403


def test_without_a_key_a_secret_is_refused_with_what_to_do(monkeypatch, tmp_path):
    configure(monkeypatch, data_dir=str(tmp_path / "data"))
    client = create_app({"TESTING": True}).test_client()
    authorize(client, "root", "admin")
    refused = client.put(f"{SECRETS}/become_password", json={"value": PASSWORD})
    assert refused.status_code == 503 and "PLAYDECK_SECRET_KEY" in refused.json["error"]
    assert client.get(SECRETS).json["secrets"] == []
