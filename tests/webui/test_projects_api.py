"""Projects through the API: registered (POST), read (GET), edited (PATCH) and archived (DELETE), with 4xx
answers naming the field, secrets that are never returned, and who may do what."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient

from tests.conftest import as_user, use_key
from tests.core.test_project_registry import shop
from tests.core.test_secrets import openssh_key
from tests.webui.account_testing import audited

TOKEN = "ghp_secret-token-0123456789"


@pytest.fixture
def keyed(monkeypatch) -> None:
    use_key(monkeypatch, Fernet.generate_key().decode())


def test_register_read_edit_and_archive_a_git_project(client: FlaskClient, keyed) -> None:
    created = client.post("/api/v1/projects", json=shop(git_username="ci", git_password=TOKEN))
    assert created.status_code == 201, created.json
    assert created.headers["Location"].endswith("/api/v1/projects/shop")
    assert created.json["credentials"] == {"git": "password", "webhook_secret": False, "vault_password": False}
    shown = client.get("/api/v1/projects/shop")
    assert shown.status_code == 200 and shown.json == created.json
    listed = client.get("/api/v1/projects").json["projects"]
    assert [project["name"] for project in listed] == ["sampleapp", "shop"]

    edited = client.patch(
        "/api/v1/projects/shop",
        json={"git_branch": "release", "environments": {"staging": {"inline_inventory": "web1\n"}}},
    )
    assert edited.status_code == 200, edited.json
    staging = {env["name"]: env for env in edited.json["environments"]}["staging"]
    assert (edited.json["git_branch"], staging["inline_inventory"], staging["inventory"]) == ("release", "web1\n", "")
    assert edited.json["description"] == created.json["description"]

    archived = client.delete("/api/v1/projects/shop")
    assert archived.status_code == 200 and archived.json["archived_at"]
    assert [project["name"] for project in client.get("/api/v1/projects").json["projects"]] == ["sampleapp"]
    everything = client.get("/api/v1/projects?archived=true").json["projects"]
    assert [project["name"] for project in everything] == ["sampleapp", "shop"]
    refused = client.post("/api/v1/runs", json={"project": "shop", "environment": "staging"})
    assert refused.status_code == 409 and "archived" in refused.json["error"]
    assert [event[0] for event in audited("project.", actor="admin")] == ["admin"] * 3


def test_secrets_are_never_returned(client: FlaskClient, keyed) -> None:
    key = openssh_key()
    body = shop("git@git.example.test:shop.git", git_ssh_key=key, webhook_secret="hook-" * 8, vault_password="v4ult!")
    answers = [client.post("/api/v1/projects", json=body)]
    answers += [client.get("/api/v1/projects/shop"), client.get("/api/v1/projects")]
    answers += [client.patch("/api/v1/projects/shop", json={"git_ssh_key": key}), client.get("/api/v1/audit")]
    answers += [client.get("/api/v1/projects/shop/secrets")]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.json
        text = json.dumps(answer.json)
        assert "PRIVATE KEY" not in text and "hook-hook-" not in text and "v4ult!" not in text
    assert answers[1].json["credentials"] == {"git": "ssh_key", "webhook_secret": True, "vault_password": True}


@pytest.mark.parametrize(
    ("change", "status", "field", "message"),
    [
        ({"playbook": "../../etc/passwd"}, 400, "playbook", "no '..'"),
        ({"git_url": "ext::sh%20-c%20touch%20/tmp/pwned"}, 400, "git_url", "transport::address syntax is not allowed"),
        ({"git_url": "--upload-pack=touch /tmp/pwned"}, 400, "git_url", "must not start with '-'"),
        ({"git_url": "https://ci:tok@git.example.test/shop.git"}, 400, "git_url", "must not contain a user name"),
        ({"git_branch": "--orphan"}, 400, "git_branch", "must not start with '-'"),
        ({"environments": {"staging": {"inline_inventory": "[web\nweb1 = 1\n"}}}, 400,
         "environments.staging.inline_inventory", "ansible-inventory: "),
        ({"git_ssh_key": "not a key"}, 400, "git_ssh_key", "not an SSH private key"),
        ({"webhook_secret": "short"}, 400, "webhook_secret", "at least 16"),
        ({"name": "a b"}, 400, "name", "letters, digits"),
        ({"name": "sampleapp"}, 409, None, "already exists"),
        ({"extra": 1}, 400, "body", "unknown field(s) extra"),
        ({"environments": []}, 400, "environments", "must be an object"),
    ],
)  # fmt: skip
def test_bad_registrations_are_4xx_naming_the_field(client: FlaskClient, keyed, change, status, field, message):
    refused = client.post("/api/v1/projects", json={**shop(), **change})
    assert (refused.status_code, refused.json["field"]) == (status, field), refused.json
    assert message in refused.json["error"]
    assert client.get("/api/v1/projects/shop").status_code == 404


def test_who_may_register_edit_and_archive(client: FlaskClient, keyed) -> None:
    assert client.post("/api/v1/projects", json=shop()).status_code == 201
    manager = as_user("rita", "release_manager", projects=("shop",))
    outsider = as_user("olga", "release_manager")
    developer = as_user("dev", "developer", projects=("shop",))
    viewer = as_user("vic", "viewer")
    other = {**shop(), "name": "other"}
    assert client.post("/api/v1/projects", json=other, headers=manager).status_code == 403
    assert client.patch("/api/v1/projects/shop", json={"description": "x"}, headers=outsider).status_code == 403
    assert client.patch("/api/v1/projects/shop", json={"description": "x"}, headers=developer).status_code == 403
    assert client.patch("/api/v1/projects/shop", json={"description": "x"}, headers=manager).status_code == 200
    assert client.get("/api/v1/projects/shop", headers=viewer).json["description"] == "x"
    assert client.delete("/api/v1/projects/shop", headers=manager).status_code == 403
    assert client.patch("/api/v1/projects/sampleapp", json={"description": "x"}, headers=manager).status_code == 403
    # The built-in DNS project is Playdeck's.
    from playdeck import db
    from playdeck.dns.scheduling import dns_project

    with db.session_scope() as session:
        dns_project(session)
    assert client.patch("/api/v1/projects/dns", json={"description": "x"}).status_code == 403
    assert client.delete("/api/v1/projects/dns").status_code == 403
    assert (
        client.post("/api/v1/projects", data="name=x", content_type="application/x-www-form-urlencoded").status_code
        == 415
    )
