"""Every logged-in user's own page, /account: a new password (the current one first; the user's other
sessions end, this one stays) and their API tokens (made here and shown once, working as Bearer tokens,
their last use shown, revoked here)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from playdeck.auth import credentials
from playdeck.db import session_scope
from tests.conftest import bearer, make_user
from tests.webui.account_testing import (
    PASSWORD,
    audited,
    browser_as,
    last_used,
    logged_in,
    post_form,
    token_row,
)
from tests.webui.test_csrf_login import csrf_of, log_in

NEW_PASSWORD = "a brand new long password"
TOKEN = re.compile(r'id="new-token-value">(pdt_[A-Za-z0-9_-]+)<')


@pytest.fixture
def erin(app: Flask) -> FlaskClient:
    return browser_as(app, "erin", "developer", projects=("sampleapp",))


def change_password(client: FlaskClient, current: str, new: str, confirm: str | None = None):
    form = {"current_password": current, "new_password": new, "confirm_password": new if confirm is None else confirm}
    return post_form(client, "/account/password", form)


def create_token(client: FlaskClient, **form: str) -> tuple[str, str]:
    """The page the form answers with, and the token it shows."""
    made = post_form(client, "/account/tokens", form)
    assert made.status_code == 200, made.get_data(as_text=True)
    assert made.headers["Cache-Control"] == "no-store"
    page = made.get_data(as_text=True)
    return page, TOKEN.search(page).group(1)


def test_the_account_page_shows_the_users_role_and_grants(erin: FlaskClient) -> None:
    page = erin.get("/account").get_data(as_text=True)
    assert 'id="account-role">developer<' in page
    assert 'id="grant-projects">sampleapp<' in page
    assert 'id="nav-account"' in erin.get("/").get_data(as_text=True)


def test_a_new_password_ends_the_users_other_sessions_and_keeps_this_one(app: Flask, erin: FlaskClient) -> None:
    elsewhere = app.test_client()
    assert log_in(elsewhere, "erin", PASSWORD).status_code == 302

    changed = change_password(erin, PASSWORD, NEW_PASSWORD)
    assert changed.status_code == 303 and changed.headers["Location"] == "/account?done=password"
    assert "other login sessions were logged out" in erin.get(changed.headers["Location"]).get_data(as_text=True)
    assert logged_in(erin)
    assert not logged_in(elsewhere)
    assert log_in(app.test_client(), "erin", PASSWORD).status_code == 401
    assert log_in(app.test_client(), "erin", NEW_PASSWORD).status_code == 302
    assert audited("user.password", "erin") == [("erin", "erin", {})]


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong horse battery", NEW_PASSWORD, None, "current_password: is not your current password"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "the new password and its repetition differ"),
        (PASSWORD, "short", None, "password: must be 12 to 1024 characters"),
        (PASSWORD, PASSWORD, None, "is your current password"),
    ],
)
def test_a_refused_password_change_changes_nothing(
    app: Flask, erin: FlaskClient, current: str, new: str, confirm: str | None, message: str
) -> None:
    elsewhere = app.test_client()
    assert log_in(elsewhere, "erin", PASSWORD).status_code == 302
    refused = change_password(erin, current, new, confirm)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert message in page and current not in page and new not in page
    assert logged_in(erin) and logged_in(elsewhere)
    assert audited("user.password", "erin") == []


def test_a_token_made_on_the_account_page_works_and_shows_its_last_use(app: Flask, erin: FlaskClient) -> None:
    page, token = create_token(erin, name="laptop", expires_in_days="30")
    assert "shown only this once" in page
    assert erin.get("/account").get_data(as_text=True).count(token) == 0

    api = app.test_client()
    assert api.get("/api/v1/runs", headers=bearer(token)).status_code == 200
    deployed = api.post("/api/v1/runs", json={"project": "sampleapp", "environment": "staging"}, headers=bearer(token))
    assert deployed.json["requested_by"] == "erin"
    listing = erin.get("/account").get_data(as_text=True)
    row = token_row(listing, "laptop")
    assert last_used(row).endswith(" s ago")
    assert "never" not in row  # it expires (in 30 days) and was used
    assert f"<code>{token[:12]}…</code>" in row  # which of one's tokens it is, without the secret
    (created,) = audited("token.create", "erin", actor="erin")
    assert created[0] == "erin" and created[2]["name"] == "laptop" and created[2]["expires_at"]
    assert token not in str(created)


def test_a_revoked_token_gets_401_and_only_ones_own_tokens_are_revoked(app: Flask, erin: FlaskClient) -> None:
    _, token = create_token(erin)
    with session_scope() as session:
        make_user("frank", "viewer")
        others = credentials.create_token(session, "frank")
        (own,) = (listed.id for listed in credentials.list_tokens(session, "erin") if listed.name == "")
    api = app.test_client()
    assert post_form(erin, f"/account/tokens/{others.id}/revoke").status_code == 404
    assert api.get("/api/v1/runs", headers=bearer(others.token)).status_code == 200

    revoked = post_form(erin, f"/account/tokens/{own}/revoke")
    assert revoked.status_code == 303
    assert "no longer works" in erin.get(revoked.headers["Location"]).get_data(as_text=True)
    assert api.get("/api/v1/runs", headers=bearer(token)).status_code == 401
    assert audited("token.revoke", str(own)) == [("erin", str(own), {"user": "erin", "name": ""})]


@pytest.mark.parametrize("days", ["0", "3651", "soon", "-1"])
def test_a_token_with_a_bad_expiry_is_refused(erin: FlaskClient, days: str) -> None:
    refused = post_form(erin, "/account/tokens", {"name": "ci", "expires_in_days": days})
    assert refused.status_code == 400
    assert "expires_in_days: must be a whole number" in refused.get_data(as_text=True)
    assert not TOKEN.search(refused.get_data(as_text=True))
    assert audited("token.create", "erin", actor="erin") == []


def test_account_forms_need_the_csrf_token(app: Flask, erin: FlaskClient) -> None:
    _, token = create_token(erin)
    with session_scope() as session:
        (own,) = (listed.id for listed in credentials.list_tokens(session, "erin") if listed.name == "")
    forms = [
        ("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("/account/tokens", {"name": "forged"}),
        (f"/account/tokens/{own}/revoke", {}),
    ]
    for url, form in forms:
        assert erin.post(url, data=form).status_code == 403, url
        assert erin.post(url, data={**form, "csrf_token": "0" * 64}).status_code == 403, url
    assert log_in(app.test_client(), "erin", PASSWORD).status_code == 302
    assert app.test_client().get("/api/v1/runs", headers=bearer(token)).status_code == 200
    assert len(audited("token.create", "erin", actor="erin")) == 1


def test_the_account_page_needs_a_login(app: Flask) -> None:
    response = app.test_client().get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/account")


def test_form_fields_with_surrogate_bytes_are_no_server_error(erin: FlaskClient) -> None:
    """ "%ED%A0%80" is how a lone surrogate would be written in UTF-8; a form's fields are decoded with
    replacement characters, so they are ordinary (if odd) text."""
    token = csrf_of(erin.get("/account").get_data(as_text=True))
    form = "application/x-www-form-urlencoded"
    made = erin.post(
        "/account/tokens", data=f"csrf_token={token}&name=lap%ED%A0%80top&expires_in_days=30", content_type=form
    )
    assert made.status_code == 200 and TOKEN.search(made.get_data(as_text=True))
    changed = erin.post(
        "/account/password",
        data=f"csrf_token={token}&current_password=wrong%ED%A0%80&new_password=n%ED%A0%80w&confirm_password=n%ED%A0%80w",
        content_type=form,
    )
    assert changed.status_code in (400, 401)  # a wrong current password, whatever else
