"""The admin pages as an admin uses them in a browser: users made, changed, deactivated, given a new password,
granted projects and zones, their tokens revoked; environments protected; secrets set and deleted. What the
affected user notices is checked from their own browser or token; every change is audited; nobody else gets in."""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from playdeck import environments
from playdeck.auth import credentials
from playdeck.db import session_scope
from playdeck.models import Secret
from tests.conftest import bearer, configure, make_user
from tests.webui.account_testing import PASSWORD, audited, browser_as, last_used, logged_in, post_form, token_row
from tests.webui.test_csrf_login import log_in
from tests.webui.webui_testing import RUN
from webui import create_app

NEW_PASSWORD = "a brand new long password"
BECOME = "s3cret-become-password"


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    return browser_as(app, "alice", "admin")


def admin_post(client: FlaskClient, url: str, data: dict[str, str] | None = None):
    return post_form(client, url, data, page="/admin/users")


def user_page(client: FlaskClient, name: str) -> str:
    page = client.get(f"/admin/users/{name}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_an_admin_adds_a_user_who_then_logs_in(app: Flask, admin: FlaskClient) -> None:
    made = admin_post(admin, "/admin/users", {"name": "frank", "role": "developer", "password": PASSWORD})
    assert made.status_code == 303 and made.headers["Location"] == "/admin/users/frank"
    listing = admin.get("/admin/users").get_data(as_text=True)
    assert re.search(r'data-user="frank".*?class="role">developer<', listing, re.S)
    assert PASSWORD not in listing and PASSWORD not in user_page(admin, "frank")

    frank = app.test_client()
    assert log_in(frank, "frank", PASSWORD).status_code == 302
    assert "frank (developer)" in frank.get("/").get_data(as_text=True)
    # The list shows the login now.
    row = re.search(r'data-user="frank".*?</tr>', admin.get("/admin/users").get_data(as_text=True), re.S).group(0)
    assert "never" not in row
    assert audited("user.create", "frank") == [("alice", "frank", {"role": "developer", "password": True})]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "frank", "role": "developer", "password": "short"}, "password: must be 12 to 1024 characters"),
        ({"name": "frank smith", "role": "developer"}, "name: must be"),
        ({"name": "frank", "role": "superuser"}, "role: must be one of"),
        ({"name": "alice", "role": "viewer"}, "user &#39;alice&#39; already exists"),
    ],
)
def test_a_refused_new_user_comes_back_with_the_reason_and_without_the_password(
    admin: FlaskClient, form: dict[str, str], message: str
) -> None:
    refused = admin_post(admin, "/admin/users", form)
    assert refused.status_code in (400, 409)
    page = refused.get_data(as_text=True)
    assert message in page
    assert 'value="short"' not in page
    assert audited("user.create", form["name"], actor="alice") == []


def test_a_role_change_takes_effect_on_the_next_request(app: Flask, admin: FlaskClient) -> None:
    frank = browser_as(app, "frank", "viewer")
    assert frank.get("/admin/users").status_code == 403
    assert 'id="nav-admin"' not in frank.get("/").get_data(as_text=True)

    assert admin_post(admin, "/admin/users/frank/role", {"role": "admin"}).status_code == 303
    assert frank.get("/admin/users").status_code == 200
    assert 'id="nav-admin"' in frank.get("/").get_data(as_text=True)
    assert admin_post(admin, "/admin/users/frank/role", {"role": "developer"}).status_code == 303
    assert frank.get("/admin/users").status_code == 403
    assert [details for _, _, details in audited("user.role", "frank")] == [
        {"before": "viewer", "after": "admin"},
        {"before": "admin", "after": "developer"},
    ]


def test_a_deactivated_users_session_and_tokens_stop_working(app: Flask, admin: FlaskClient) -> None:
    frank = browser_as(app, "frank", "developer")
    token = make_user("frank", "developer")
    assert frank.get("/api/v1/runs", headers=bearer(token)).status_code == 200

    assert admin_post(admin, "/admin/users/frank/active", {"active": "0"}).status_code == 303
    assert 'id="inactive-tag"' in user_page(admin, "frank")
    assert not logged_in(frank)
    assert app.test_client().get("/api/v1/runs", headers=bearer(token)).status_code == 401
    assert log_in(app.test_client(), "frank", PASSWORD).status_code == 401

    assert admin_post(admin, "/admin/users/frank/active", {"active": "1"}).status_code == 303
    assert log_in(app.test_client(), "frank", PASSWORD).status_code == 302
    assert [actor for actor, _, _ in audited("user.deactivate", "frank")] == ["alice"]
    assert [actor for actor, _, _ in audited("user.activate", "frank")] == ["alice"]


def test_a_password_set_by_an_admin_ends_the_users_sessions(app: Flask, admin: FlaskClient) -> None:
    frank = browser_as(app, "frank", "developer")
    assert logged_in(frank)
    too_short = admin_post(admin, "/admin/users/frank/password", {"password": "short"})
    assert too_short.status_code == 400 and logged_in(frank)

    assert admin_post(admin, "/admin/users/frank/password", {"password": NEW_PASSWORD}).status_code == 303
    assert not logged_in(frank)
    assert log_in(app.test_client(), "frank", PASSWORD).status_code == 401
    assert log_in(app.test_client(), "frank", NEW_PASSWORD).status_code == 302
    assert NEW_PASSWORD not in user_page(admin, "frank")
    assert audited("user.password", "frank") == [("alice", "frank", {})]


def test_the_password_form_offers_to_revoke_the_users_tokens(app: Flask, admin: FlaskClient) -> None:
    token = make_user("frank", "developer")
    assert 'name="revoke_tokens"' in user_page(admin, "frank")
    assert admin_post(admin, "/admin/users/frank/password", {"password": NEW_PASSWORD}).status_code == 303
    assert app.test_client().get("/api/v1/runs", headers=bearer(token)).status_code == 200
    reset = admin_post(admin, "/admin/users/frank/password", {"password": NEW_PASSWORD + "!", "revoke_tokens": "1"})
    assert reset.status_code == 303
    assert app.test_client().get("/api/v1/runs", headers=bearer(token)).status_code == 401


def test_project_and_zone_grants_are_added_and_removed(app: Flask, admin: FlaskClient) -> None:
    token = make_user("dev", "developer")
    deploy = app.test_client()
    assert deploy.post("/api/v1/runs", json=RUN, headers=bearer(token)).status_code == 403

    assert admin_post(admin, "/admin/users/dev/grants", {"kind": "project", "value": "sampleapp"}).status_code == 303
    assert admin_post(admin, "/admin/users/dev/grants", {"kind": "zone", "value": "Example.Test"}).status_code == 303
    page = user_page(admin, "dev")
    assert 'data-grant="project:sampleapp"' in page and 'data-grant="zone:example.test."' in page
    assert deploy.post("/api/v1/runs", json=RUN, headers=bearer(token)).status_code == 201

    removed = admin_post(admin, "/admin/users/dev/grants/remove", {"kind": "project", "value": "sampleapp"})
    assert removed.status_code == 303
    assert deploy.post("/api/v1/runs", json=RUN, headers=bearer(token)).status_code == 403
    again = admin_post(admin, "/admin/users/dev/grants/remove", {"kind": "project", "value": "sampleapp"})
    assert again.status_code == 404 and "not a member of project" in again.get_data(as_text=True)
    unknown = admin_post(admin, "/admin/users/dev/grants", {"kind": "project", "value": "nosuch"})
    assert unknown.status_code == 404 and "project &#39;nosuch&#39; does not exist" in unknown.get_data(as_text=True)
    assert admin_post(admin, "/admin/users/dev/grants", {"kind": "role", "value": "x"}).status_code == 400
    assert [details for _, _, details in audited("user.revoke_project", "dev")] == [{"project": "sampleapp"}]
    assert [details for _, _, details in audited("user.grant_zone", "dev")] == [{"zone": "example.test."}]


def test_an_admin_revokes_a_users_token_on_their_page(app: Flask, admin: FlaskClient) -> None:
    with session_scope() as session:
        make_user("dev", "developer")
        issued = credentials.create_token(session, "dev", name="laptop")
    client = app.test_client()
    assert client.get("/api/v1/runs", headers=bearer(issued.token)).status_code == 200
    page = user_page(admin, "dev")
    assert last_used(token_row(page, "laptop")).endswith(" s ago")
    assert issued.token not in page

    # The token must be the user's in the URL: another user's page cannot revoke it.
    assert admin_post(admin, f"/admin/users/alice/tokens/{issued.id}/revoke").status_code == 404
    assert admin_post(admin, f"/admin/users/dev/tokens/{issued.id}/revoke").status_code == 303
    assert client.get("/api/v1/runs", headers=bearer(issued.token)).status_code == 401
    assert "token-revoked" in user_page(admin, "dev")
    assert audited("token.revoke", str(issued.id)) == [("alice", str(issued.id), {"user": "dev", "name": "laptop"})]


def test_the_last_active_admin_stays_one(app: Flask, admin: FlaskClient) -> None:
    assert admin_post(admin, "/admin/users/admin/active", {"active": "0"}).status_code == 303  # the tests' admin
    refused = admin_post(admin, "/admin/users/alice/role", {"role": "viewer"})
    assert refused.status_code == 409 and "last active admin" in refused.get_data(as_text=True)
    assert admin_post(admin, "/admin/users/alice/active", {"active": "0"}).status_code == 409
    assert admin.get("/admin/users").status_code == 200


def test_protecting_an_environment_decides_who_deploys_there(app: Flask, admin: FlaskClient) -> None:
    token = make_user("dev", "developer", projects=("sampleapp",))
    client = app.test_client()
    production = {**RUN, "environment": "production"}
    assert client.post("/api/v1/runs", json=production, headers=bearer(token)).status_code == 403

    url = "/admin/projects/sampleapp/environments/production/protected"
    assert admin_post(admin, url, {"protected": "0", "confirm": "yes"}).status_code == 303
    page = admin.get("/admin/projects/sampleapp").get_data(as_text=True)
    assert re.search(r'data-environment="production">.*?class="protected">no<', page, re.S)
    assert client.post("/api/v1/runs", json=production, headers=bearer(token)).status_code == 201
    assert admin_post(admin, url, {"protected": "1"}).status_code == 303
    assert client.post("/api/v1/runs", json=production, headers=bearer(token)).status_code == 403
    assert admin_post(admin, url, {"protected": "maybe"}).status_code == 400
    assert (
        admin_post(admin, "/admin/projects/sampleapp/environments/nosuch/protected", {"protected": "1"}).status_code
        == 404
    )
    assert [details for _, _, details in audited("project.environment", "sampleapp")] == [
        {"environment": "production", "protected": False},
        {"environment": "production", "protected": True},
    ]


def test_an_environments_queue_and_host_keys_show_on_its_project(app: Flask, admin: FlaskClient) -> None:
    key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    with session_scope() as session:
        environments.set_options(
            session, "sampleapp", "production", queue="dc2", known_hosts=f"10.0.0.5 ssh-ed25519 {key}\n"
        )

    page = admin.get("/admin/projects/sampleapp").get_data(as_text=True)
    assert re.search(r'data-environment="production">.*?class="queue">dc2<.*?class="known-hosts">1<', page, re.S)
    assert re.search(r'data-environment="staging">.*?class="queue">deploy \(default\)<', page, re.S)
    listed = admin.get("/api/v1/projects").get_json()
    shown = {env["name"]: env for project in listed["projects"] for env in project["environments"]}
    assert (shown["production"]["queue"], shown["production"]["known_hosts_entries"]) == ("dc2", 1)
    assert (shown["staging"]["queue"], shown["staging"]["known_hosts_entries"]) == (None, 0)


@pytest.fixture
def keyed(monkeypatch, tmp_path) -> Flask:
    configure(monkeypatch, data_dir=str(tmp_path / "data"), secret_key=Fernet.generate_key().decode())
    return create_app({"TESTING": True})


def test_a_secret_set_on_the_page_is_stored_encrypted_and_never_shown(keyed: Flask) -> None:
    admin = browser_as(keyed, "alice", "admin")
    url = "/admin/projects/sampleapp/secrets"
    made = admin_post(admin, url, {"kind": "become_password", "environment": "production", "value": BECOME})
    assert made.status_code == 303
    page = admin.get("/admin/projects/sampleapp").get_data(as_text=True)
    assert 'data-secret="become_password:production"' in page and "alice" in page
    with session_scope() as session:
        stored = session.scalar(select(Secret.ciphertext))
    assert stored and BECOME not in stored

    # A refused value is not drawn back into the form either.
    refused = admin_post(admin, url, {"kind": "become_password", "environment": "", "value": BECOME + "\nline two"})
    assert refused.status_code == 400 and "single line" in refused.get_data(as_text=True)
    assert BECOME not in refused.get_data(as_text=True)
    for seen in ("/admin/projects/sampleapp", "/admin/projects", "/admin/users", "/audit", "/api/v1/audit", "/"):
        response = admin.get(seen)
        assert response.status_code == 200 and BECOME not in response.get_data(as_text=True), seen

    gone = admin_post(admin, f"{url}/delete", {"kind": "become_password", "environment": "production"})
    assert gone.status_code == 303
    assert 'data-secret="become_password:production"' not in admin.get("/admin/projects/sampleapp").get_data(
        as_text=True
    )
    assert (
        admin_post(admin, f"{url}/delete", {"kind": "become_password", "environment": "production"}).status_code == 404
    )
    assert [(actor, details) for actor, _, details in audited("secret.set", "sampleapp")] == [
        ("alice", {"kind": "become_password", "environment": "production", "replaced": False})
    ]
    assert [actor for actor, _, _ in audited("secret.delete", "sampleapp")] == ["alice"]


def test_without_a_key_the_secret_form_says_what_to_do(admin: FlaskClient) -> None:
    refused = admin_post(admin, "/admin/projects/sampleapp/secrets", {"kind": "vault_password", "value": BECOME})
    assert refused.status_code == 503
    assert "PLAYDECK_SECRET_KEY is not set" in refused.get_data(as_text=True)
    assert BECOME not in refused.get_data(as_text=True)


ADMIN_FORMS = [
    ("/admin/users", {"name": "mallory", "role": "admin", "password": PASSWORD}),
    ("/admin/users/frank/role", {"role": "admin"}),
    ("/admin/users/frank/active", {"active": "0"}),
    ("/admin/users/frank/password", {"password": NEW_PASSWORD}),
    ("/admin/users/frank/grants", {"kind": "project", "value": "sampleapp"}),
    ("/admin/projects/sampleapp/environments/production/protected", {"protected": "0"}),
    ("/admin/projects/sampleapp/secrets", {"kind": "vault_password", "value": BECOME}),
]


def test_an_admin_form_without_the_csrf_token_is_refused(app: Flask, admin: FlaskClient) -> None:
    frank = browser_as(app, "frank", "viewer")
    for url, form in ADMIN_FORMS:
        for token in (None, "0" * 64):
            data = form if token is None else {**form, "csrf_token": token}
            assert admin.post(url, data=data).status_code == 403, url
    # Nothing happened: no user made, frank as he was, production still protected, no secret.
    assert admin.get("/admin/users/mallory").status_code == 404
    assert logged_in(frank) and "frank (viewer)" in frank.get("/").get_data(as_text=True)
    assert audited("user.", actor="alice") == [] and audited("project.") == [] and audited("secret.") == []


@pytest.mark.parametrize("role", ["viewer", "developer", "release_manager"])
def test_only_admins_reach_the_admin_pages(app: Flask, role: str) -> None:
    user = browser_as(app, "someone", role)
    assert 'id="nav-account"' in user.get("/").get_data(as_text=True)
    for url in ("/admin/users", "/admin/users/someone", "/admin/projects", "/admin/projects/sampleapp"):
        assert user.get(url).status_code == 403, url
    for url, form in ADMIN_FORMS:
        assert post_form(user, url.replace("frank", "someone"), form).status_code == 403, url
    assert "someone (" + role.replace("_", " ") + ")" in user.get("/").get_data(as_text=True)
