"""The users and tokens API with the rules of the pages: admins make and change users and their grants; every
user makes, lists and revokes their own tokens (admins anyone's); a token is answered once; what changes
is audited; everyone else gets 403."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import as_user, bearer, make_user
from tests.webui.account_testing import PASSWORD, audited, browser_as, logged_in
from tests.webui.test_csrf_login import csrf_of, log_in
from tests.webui.webui_testing import RUN

USERS = "/api/v1/users"
TOKENS = "/api/v1/tokens"
NEW_PASSWORD = "a brand new long password"


def runs_status(app: Flask, token: str) -> int:
    return app.test_client().get("/api/v1/runs", headers=bearer(token)).status_code


def test_an_admin_creates_lists_and_shows_users(app: Flask, client: FlaskClient) -> None:
    made = client.post(USERS, json={"name": "frank", "role": "developer", "password": PASSWORD})
    assert made.status_code == 201, made.json
    assert made.headers["Location"] == f"{USERS}/frank"
    assert made.json["role"] == "developer" and made.json["active"] and made.json["password_set"]
    assert made.json["last_login_at"] is None and PASSWORD not in made.get_data(as_text=True)
    assert log_in(app.test_client(), "frank", PASSWORD).status_code == 302

    shown = client.get(f"{USERS}/frank").json
    assert shown["last_login_at"] is not None and shown["projects"] == [] and shown["zones"] == []
    listed = client.get(USERS).json["users"]
    assert [user["name"] for user in listed] == ["admin", "frank"]
    assert "password_hash" not in str(listed)
    assert audited("user.create", "frank") == [("admin", "frank", {"role": "developer", "password": True})]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "admin", "role": "viewer"}, 409, None),
        ({"name": "frank", "role": "superuser"}, 400, "role"),
        ({"name": "frank smith", "role": "viewer"}, 400, "name"),
        ({"name": "frank", "role": "viewer", "password": "short"}, 400, "password"),
        ({"name": "frank", "role": "viewer", "password": 12345678901234}, 400, "password"),
        ({"name": "frank", "role": "viewer", "is_admin": True}, 400, "body"),
        (["frank"], 400, "body"),
    ],
)
def test_bad_new_users_are_refused(client: FlaskClient, body, status: int, field: str | None) -> None:
    refused = client.post(USERS, json=body)
    assert refused.status_code == status and refused.json["field"] == field
    assert client.get(f"{USERS}/frank").status_code == 404


def test_a_form_encoded_write_is_refused(client: FlaskClient) -> None:
    assert client.post(USERS, data={"name": "frank", "role": "admin"}).status_code == 415
    assert client.patch(f"{USERS}/admin", data={"role": "viewer"}).status_code == 415
    assert client.post(TOKENS, data={"name": "x"}).status_code == 415


def test_patch_changes_role_active_and_password_with_their_effects(app: Flask, client: FlaskClient) -> None:
    browser = browser_as(app, "frank", "viewer")
    token = make_user("frank", "viewer")
    assert app.test_client().get(USERS, headers=bearer(token)).status_code == 403

    promoted = client.patch(f"{USERS}/frank", json={"role": "admin"})
    assert promoted.status_code == 200 and promoted.json["role"] == "admin"
    assert app.test_client().get(USERS, headers=bearer(token)).status_code == 200

    assert client.patch(f"{USERS}/frank", json={"password": NEW_PASSWORD}).status_code == 200
    assert not logged_in(browser)
    assert runs_status(app, token) == 200  # tokens stay: they are revoked one by one
    assert log_in(app.test_client(), "frank", NEW_PASSWORD).status_code == 302

    assert client.patch(f"{USERS}/frank", json={"active": False}).json["active"] is False
    assert runs_status(app, token) == 401
    assert log_in(app.test_client(), "frank", NEW_PASSWORD).status_code == 401
    assert client.patch(f"{USERS}/frank", json={"active": True}).status_code == 200
    # Deactivation revoked the token for good: reactivating the user revives no credential.
    assert runs_status(app, token) == 401
    assert log_in(app.test_client(), "frank", NEW_PASSWORD).status_code == 302

    assert [(actor, details) for actor, _, details in audited("user.role", "frank")] == [
        ("admin", {"before": "viewer", "after": "admin"})
    ]
    assert [actor for actor, _, _ in audited("user.password", "frank")] == ["admin"]
    assert [actor for actor, _, _ in audited("user.deactivate", "frank")] == ["admin"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "body"),
        ({"active": "no"}, 400, "active"),
        ({"revoke_tokens": "yes"}, 400, "revoke_tokens"),
        ({"role": "root"}, 400, "role"),
        ({"password": "short"}, 400, "password"),
        ({"name": "renamed"}, 400, "body"),
    ],
)
def test_bad_changes_are_refused(client: FlaskClient, body, status: int, field: str) -> None:
    make_user("frank", "viewer")
    refused = client.patch(f"{USERS}/frank", json=body)
    assert refused.status_code == status and refused.json["field"] == field
    assert client.get(f"{USERS}/frank").json["role"] == "viewer"
    assert client.patch(f"{USERS}/nobody", json={"role": "viewer"}).status_code == 404


def test_a_password_reset_may_revoke_every_token_of_the_user(app: Flask, client: FlaskClient) -> None:
    kept, leaked = make_user("frank", "viewer"), make_user("frank", "viewer")
    assert client.patch(f"{USERS}/frank", json={"password": NEW_PASSWORD}).status_code == 200
    assert runs_status(app, kept) == 200  # without the flag, tokens stay
    reset = client.patch(f"{USERS}/frank", json={"password": NEW_PASSWORD + "!", "revoke_tokens": True})
    assert reset.status_code == 200
    assert runs_status(app, kept) == 401 and runs_status(app, leaked) == 401
    assert [details for _, _, details in audited("user.revoke_tokens", "frank")] == [{"tokens": 2}]
    assert {entry["state"] for entry in client.get(f"{TOKENS}?user=frank").json["tokens"]} == {"revoked"}


def test_a_token_made_with_a_token_never_outlives_it_and_dies_with_it(app: Flask, client: FlaskClient) -> None:
    root = make_user("vic", "viewer")  # no expiry
    parent = client.post(TOKENS, json={"name": "parent", "expires_in_days": 7}, headers=bearer(root)).json
    assert parent["parent_id"] is not None
    as_parent = bearer(parent["token"])

    longer = client.post(TOKENS, json={"name": "forever?", "expires_in_days": 30}, headers=as_parent)
    assert longer.status_code == 400 and longer.json["field"] == "expires_in_days"
    child = client.post(TOKENS, json={"name": "child"}, headers=as_parent).json
    assert child["parent_id"] == parent["id"] and child["expires_at"] == parent["expires_at"]
    grandchild = client.post(TOKENS, json={"name": "grandchild", "expires_in_days": 1}, headers=bearer(child["token"]))
    assert grandchild.status_code == 201 and grandchild.json["expires_at"] < parent["expires_at"]
    assert all(runs_status(app, made["token"]) == 200 for made in (parent, child, grandchild.json))

    assert client.delete(f"{TOKENS}/{parent['id']}", headers=bearer(root)).status_code == 204
    assert [runs_status(app, made["token"]) for made in (parent, child, grandchild.json)] == [401, 401, 401]
    assert runs_status(app, root) == 200  # the parent's own parent is not touched
    ((_, _, details),) = audited("token.revoke", str(parent["id"]))
    assert details["descendants"] == [child["id"], grandchild.json["id"]]


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(client: FlaskClient) -> None:
    for change in ({"role": "viewer"}, {"active": False}):
        refused = client.patch(f"{USERS}/admin", json=change)
        assert refused.status_code == 409 and "last active admin" in refused.json["error"]
    assert client.get(f"{USERS}/admin").json["role"] == "admin"


def test_grants_let_a_developer_deploy_and_edit_a_zone(app: Flask, client: FlaskClient) -> None:
    token = make_user("dev", "developer")
    api = app.test_client()
    assert api.post("/api/v1/runs", json=RUN, headers=bearer(token)).status_code == 403

    granted = client.put(f"{USERS}/dev/projects/sampleapp")
    assert granted.status_code == 200 and granted.json["projects"] == ["sampleapp"]
    assert client.put(f"{USERS}/dev/zones/Example.Test").json["zones"] == ["example.test."]
    assert api.post("/api/v1/runs", json=RUN, headers=bearer(token)).status_code == 201

    assert client.delete(f"{USERS}/dev/projects/sampleapp").json["projects"] == []
    assert api.post("/api/v1/runs", json=RUN, headers=bearer(token)).status_code == 403
    assert client.delete(f"{USERS}/dev/projects/sampleapp").status_code == 404
    assert client.delete(f"{USERS}/dev/zones/example.test.").json["zones"] == []
    assert client.put(f"{USERS}/dev/projects/nosuch").status_code == 404
    assert client.put(f"{USERS}/nobody/projects/sampleapp").status_code == 404
    assert [details for _, _, details in audited("user.grant_project", "dev")] == [{"project": "sampleapp"}]
    assert [details for _, _, details in audited("user.revoke_zone", "dev")] == [{"zone": "example.test."}]


@pytest.mark.parametrize("role", ["viewer", "developer", "release_manager"])
def test_only_admins_manage_users(client: FlaskClient, role: str) -> None:
    headers = as_user("someone", role)
    for method, url, body in [
        ("get", USERS, None),
        ("post", USERS, {"name": "mallory", "role": "admin", "password": PASSWORD}),
        ("get", f"{USERS}/someone", None),
        ("patch", f"{USERS}/someone", {"role": "admin"}),
        ("put", f"{USERS}/someone/projects/sampleapp", None),
        ("delete", f"{USERS}/someone/zones/example.test", None),
    ]:
        assert getattr(client, method)(url, json=body, headers=headers).status_code == 403, (method, url)
    assert client.get(f"{USERS}/someone").json["role"] == role
    assert client.get(f"{USERS}/mallory").status_code == 404


def test_everyone_makes_lists_and_revokes_their_own_tokens(app: Flask, client: FlaskClient) -> None:
    headers = as_user("vic", "viewer")
    made = client.post(TOKENS, json={"name": "ci", "expires_in_days": 7}, headers=headers)
    assert made.status_code == 201, made.json
    token = made.json["token"]
    assert made.json["user"] == "vic" and made.json["state"] == "active" and made.json["expires_at"]
    assert runs_status(app, token) == 200

    listed = client.get(TOKENS, headers=bearer(token)).json["tokens"]
    assert {entry["name"] for entry in listed} == {"tests", "ci"}
    assert token not in str(listed)
    (ci,) = (entry for entry in listed if entry["name"] == "ci")
    assert ci["last_used_at"] is not None and ci["user"] == "vic"
    assert ci["start"] == token[:12] and token.startswith("pdt_")

    revoked = client.delete(f"{TOKENS}/{ci['id']}", headers=headers)
    assert revoked.status_code == 204
    assert runs_status(app, token) == 401
    assert client.get(TOKENS, headers=headers).json["tokens"][-1]["state"] == "revoked"
    assert audited("token.create", "vic", actor="vic")[0][2]["name"] == "ci"
    assert audited("token.revoke", str(ci["id"])) == [("vic", str(ci["id"]), {"user": "vic", "name": "ci"})]


def test_only_admins_see_and_revoke_the_tokens_of_others(app: Flask, client: FlaskClient) -> None:
    vic, wendy = as_user("vic", "viewer"), make_user("wendy", "developer")
    wendys = client.get(f"{TOKENS}?user=wendy").json["tokens"]
    assert [entry["user"] for entry in wendys] == ["wendy"]
    assert {entry["user"] for entry in client.get(f"{TOKENS}?user=").json["tokens"]} == {"admin", "vic", "wendy"}

    assert client.get(f"{TOKENS}?user=wendy", headers=vic).status_code == 403
    # Someone else's token is as unknown to a non-admin as one that does not exist.
    assert client.delete(f"{TOKENS}/{wendys[0]['id']}", headers=vic).status_code == 404
    assert runs_status(app, wendy) == 200
    assert client.delete(f"{TOKENS}/{wendys[0]['id']}").status_code == 204
    assert runs_status(app, wendy) == 401
    assert client.delete(f"{TOKENS}/424242").status_code == 404
    assert client.get(f"{TOKENS}?owner=wendy").status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": "7"}, "expires_in_days"),
        ({"expires_in_days": True}, "expires_in_days"),
        ({"name": "x" * 101}, "name"),
        ({"name": 7}, "name"),
        ({"user": "admin"}, "body"),
    ],
)
def test_bad_token_requests_are_refused(client: FlaskClient, body, field: str) -> None:
    before = len(client.get(TOKENS).json["tokens"])
    refused = client.post(TOKENS, json=body)
    assert refused.status_code == 400 and refused.json["field"] == field
    assert len(client.get(TOKENS).json["tokens"]) == before


def test_a_cookie_authenticated_call_needs_the_csrf_header(app: Flask) -> None:
    browser = browser_as(app, "frank", "admin")
    assert browser.post(TOKENS, json={"name": "forged"}).status_code == 403
    assert browser.patch(f"{USERS}/admin", json={"active": False}).status_code == 403
    header = {"X-CSRF-Token": csrf_of(browser.get("/account").get_data(as_text=True))}
    made = browser.post(TOKENS, json={"name": "mine"}, headers=header)
    assert made.status_code == 201 and made.json["user"] == "frank"
    assert [entry["name"] for entry in browser.get(TOKENS).json["tokens"]] == ["tests", "mine"]
