"""Logging in and out of the web UI, the session cookie, CSRF on cookie-authenticated changes, the login
throttle, safe redirects, security headers, and credentials that stop working (logout, a new password,
an expired or revoked API token)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from playdeck import audit
from playdeck.auth import credentials, login_form, throttle, users
from playdeck.auth.models import ApiToken
from playdeck.db import session_scope
from playdeck.models import utcnow
from playdeck.runs.requests import RunRequest
from playdeck.settings import get_settings
from tests.conftest import bearer, make_user, queue_run
from tests.webui.webui_testing import RUN
from webui import access, auth_pages, create_app

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')


@pytest.fixture
def erin(app: Flask) -> str:
    """A developer of sampleapp with a password; the API token is not used by the browser tests."""
    return make_user("erin", "developer", password=PASSWORD, projects=("sampleapp",))


def log_in(client: FlaskClient, name: str = "erin", password: str = PASSWORD, **form: str):
    """As a browser does: the login form first (its token), then the post."""
    (token,) = CSRF_INPUT.findall(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token, **form})


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(access.SESSION_COOKIE)
    assert cookie is not None
    return cookie.value


def csrf_of(page: str) -> str:
    found = CSRF_INPUT.search(page)
    assert found and found.group(1), "no CSRF token in the page's forms"
    return unescape(found.group(1))


def audit_rows(action: str) -> list:
    with session_scope() as session:
        events, _ = audit.list_events(session, audit.AuditFilters(action=action), limit=100)
        session.expunge_all()
        return list(reversed(events))


def own_run() -> int:
    return queue_run(RunRequest(project="sampleapp", environment="staging", version="1.0", requested_by="erin")).id


@pytest.fixture
def browser(app: Flask, erin: str) -> FlaskClient:
    client = app.test_client()
    assert log_in(client).status_code == 302
    return client


def test_a_login_sets_an_httponly_samesite_cookie_and_opens_the_dashboard(app: Flask, erin: str) -> None:
    client = app.test_client()
    response = log_in(client, next="/runs")
    assert response.status_code == 302
    assert response.headers["Location"] == "/runs"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{access.SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert "erin (developer)" in page.get_data(as_text=True)


def test_a_login_posted_without_the_forms_token_is_refused(app: Flask, erin: str) -> None:
    """Another site can post a login form, but not read or set the form's cookie: no login CSRF."""
    client = app.test_client()
    bare = client.post("/login", data={"name": "erin", "password": PASSWORD})
    client.get("/login")  # the form's cookie is set, but a forged post cannot know its token
    forged = client.post("/login", data={"name": "erin", "password": PASSWORD, "csrf_token": "guessed"})
    for refused in (bare, forged):
        assert refused.status_code == 400 and "log in again here" in refused.get_data(as_text=True)
    assert client.get_cookie(access.SESSION_COOKIE) is None
    assert log_in(client).status_code == 302 and client.get_cookie(access.SESSION_COOKIE) is not None


def form_token(client: FlaskClient) -> str:
    (token,) = CSRF_INPUT.findall(client.get("/login").get_data(as_text=True))
    return token


def test_a_planted_form_cookie_does_not_verify(app: Flask, erin: str) -> None:
    """A sibling subdomain (or a man in the middle of plain HTTP) can set the form's cookie to a value of
    its choosing; a token that matches the cookie's value is no longer enough."""
    client = app.test_client()
    client.set_cookie(auth_pages.LOGIN_CSRF_COOKIE, "chosen-by-the-attacker", path="/login")
    planted = client.post("/login", data={"name": "erin", "password": PASSWORD, "csrf_token": "chosen-by-the-attacker"})
    assert planted.status_code == 400 and client.get_cookie(access.SESSION_COOKIE) is None


def test_a_form_token_verifies_only_with_the_cookie_of_its_own_browser(app: Flask, erin: str) -> None:
    first, second = app.test_client(), app.test_client()
    token_of_first = form_token(first)
    form_token(second)  # the second browser has a form cookie of its own
    crossed = second.post("/login", data={"name": "erin", "password": PASSWORD, "csrf_token": token_of_first})
    assert crossed.status_code == 400 and second.get_cookie(access.SESSION_COOKIE) is None
    assert (
        first.post("/login", data={"name": "erin", "password": PASSWORD, "csrf_token": token_of_first}).status_code
        == 302
    )


def test_a_login_posted_from_another_site_is_refused(app: Flask, erin: str) -> None:
    client = app.test_client()
    form = {"name": "erin", "password": PASSWORD, "csrf_token": form_token(client)}
    refused = client.post("/login", data=form, headers={"Origin": "https://evil.example.test"})
    assert refused.status_code == 400 and client.get_cookie(access.SESSION_COOKIE) is None
    # The refusal came with a new form (and cookie): a same-site post of that one logs in.
    form["csrf_token"] = CSRF_INPUT.search(refused.get_data(as_text=True)).group(1)
    assert client.post("/login", data=form, headers={"Origin": "http://localhost"}).status_code == 302


def test_a_form_verifies_in_another_web_process_and_expires(app: Flask, erin: str) -> None:
    client = app.test_client()
    token = form_token(client)
    login_form._keys.clear()  # as in another process: the key is read from the database
    other_process = create_app({"TESTING": True}).test_client()
    other_process.set_cookie(
        auth_pages.LOGIN_CSRF_COOKIE,
        client.get_cookie(auth_pages.LOGIN_CSRF_COOKIE, path="/login").value,
        path="/login",
    )
    assert (
        other_process.post("/login", data={"name": "erin", "password": PASSWORD, "csrf_token": token}).status_code
        == 302
    )
    issued = login_form.issue(login_form.shared_key())
    assert login_form.verify(login_form.shared_key(), issued.cookie, issued.token, max_age=60)
    assert not login_form.verify(login_form.shared_key(), issued.cookie, issued.token, max_age=-1)  # too old


def test_a_page_post_needs_the_csrf_token_of_the_session(browser: FlaskClient) -> None:
    run_id = own_run()
    page = browser.get(f"/runs/{run_id}").get_data(as_text=True)
    assert 'id="cancel-form"' in page
    token = csrf_of(page)

    assert browser.post(f"/runs/{run_id}/cancel").status_code == 403
    assert browser.post(f"/runs/{run_id}/cancel", data={"csrf_token": "0" * 64}).status_code == 403
    canceled = browser.post(f"/runs/{run_id}/cancel", data={"csrf_token": token, "confirm": "yes"})
    assert canceled.status_code == 303
    assert browser.get(f"/api/v1/runs/{run_id}").json["canceled_by"] == "erin"


def test_a_cookie_authenticated_api_call_needs_the_csrf_header(browser: FlaskClient) -> None:
    token = csrf_of(browser.get("/").get_data(as_text=True))
    assert browser.post("/api/v1/runs", json=RUN).status_code == 403
    created = browser.post("/api/v1/runs", json=RUN, headers={"X-CSRF-Token": token})
    assert created.status_code == 201
    assert created.json["requested_by"] == "erin"


def test_the_deploy_form_carries_the_token_and_deploys_as_the_user(browser: FlaskClient) -> None:
    page = browser.get("/projects/sampleapp/deploy").get_data(as_text=True)
    form = {"environment": "staging", "version": "2.0", "csrf_token": csrf_of(page)}
    assert browser.post("/projects/sampleapp/deploy", data={**form, "csrf_token": ""}).status_code == 403
    deployed = browser.post("/projects/sampleapp/deploy", data=form)
    assert deployed.status_code == 303
    run_id = int(deployed.headers["Location"].rsplit("/", 1)[1])
    assert browser.get(f"/api/v1/runs/{run_id}").json["requested_by"] == "erin"


def test_logout_ends_the_session_on_the_server(app: Flask, browser: FlaskClient) -> None:
    stolen = session_cookie(browser)
    token = csrf_of(browser.get("/").get_data(as_text=True))
    out = browser.post("/logout", data={"csrf_token": token, "confirm": "yes"})
    assert out.status_code == 302 and out.headers["Location"] == "/login"

    replay = app.test_client()
    replay.set_cookie(access.SESSION_COOKIE, stolen)
    assert replay.get("/").status_code == 302
    assert replay.get("/api/v1/runs").status_code == 401


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(app: Flask, erin: str) -> None:
    client = app.test_client()
    for _ in range(throttle.FREE_FAILURES):
        refused = log_in(client, password="wrong password!")
        assert refused.status_code == 401
        assert credentials.LOGIN_REFUSED in refused.get_data(as_text=True)
        assert client.get_cookie(access.SESSION_COOKIE) is None
    throttled = log_in(client)  # even the right password waits
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1


def client_at(app: Flask, remote: str, forwarded_for: str | None = None) -> FlaskClient:
    """A browser whose connection comes from ``remote`` (a proxy, or the client itself), with the
    X-Forwarded-For header it arrives with."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = remote
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def fail_until_throttled(client: FlaskClient, address: str, name: str = "erin") -> None:
    """Failed logins of ``name`` from ``client`` (seen as ``address``) until it must wait a minute (not
    2 s, which a busy machine outlasts)."""
    for _ in range(throttle.FREE_FAILURES):
        assert log_in(client, name, password="wrong password!").status_code == 401
    with session_scope() as session:
        for _ in range(5):
            throttle.record_failure(session, name, address)
    assert log_in(client, name).status_code == 429


def test_a_forged_forwarded_for_changes_nothing_without_trusted_proxies(app: Flask, erin: str) -> None:
    """With PLAYDECK_TRUSTED_PROXIES=0 a client cannot pose as many addresses to escape the throttle."""
    for number in range(throttle.FREE_FAILURES):
        guesser = client_at(app, "203.0.113.9", f"198.51.100.{number}")
        assert log_in(guesser, password="wrong password!").status_code == 401
    assert [event.address for event in audit_rows("login.failure")] == ["203.0.113.9"] * throttle.FREE_FAILURES
    with session_scope() as session:  # a wait of a minute, not 2 s a busy machine outlasts
        for _ in range(5):
            throttle.record_failure(session, "erin", "203.0.113.9")
    assert log_in(client_at(app, "203.0.113.9", "198.51.100.99")).status_code == 429


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(
    monkeypatch: pytest.MonkeyPatch, app: Flask, erin: str
) -> None:
    monkeypatch.setenv("PLAYDECK_TRUSTED_PROXIES", "1")
    get_settings.cache_clear()
    proxied = create_app({"TESTING": True})
    make_user("frank", "viewer", password=PASSWORD)
    proxy = "10.0.0.2"
    # The attacker forges a leftmost entry; the proxy appends the address it saw.
    attacker = client_at(proxied, proxy, "192.0.2.50, 203.0.113.66")
    fail_until_throttled(attacker, "203.0.113.66")
    assert log_in(client_at(proxied, proxy, "203.0.113.66")).status_code == 429  # the same client
    # Another user behind the same proxy, and erin from elsewhere, are not locked out.
    assert log_in(client_at(proxied, proxy, "203.0.113.66"), "frank").status_code == 302
    assert log_in(client_at(proxied, proxy, "198.51.100.7")).status_code == 302
    assert {event.address for event in audit_rows("login.failure")} == {"203.0.113.66"}


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", ""])
def test_login_never_redirects_off_site(app: Flask, erin: str, target: str) -> None:
    response = log_in(app.test_client(), next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "target", ["/runs\r\nSet-Cookie: pd_session=x", "/runs\n", "/runs\x00", "/ru\tns", "/runs\x85"]
)
def test_a_next_with_control_characters_goes_to_the_dashboard(app: Flask, erin: str, target: str) -> None:
    client = app.test_client()
    form = client.get("/login", query_string={"next": target})
    assert form.status_code == 200
    response = log_in(client, next=target)
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    assert "pd_session=x" not in str(response.headers)


def test_a_backslash_next_stays_on_this_site(app: Flask, erin: str) -> None:
    # Browsers read "/\host" as "//host"; the redirect sends the backslash percent-encoded, a local path.
    location = log_in(app.test_client(), next="/\\evil.example").headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert urlsplit(location).netloc == ""


def test_a_page_without_a_login_redirects_to_it_and_back(app: Flask) -> None:
    response = app.test_client().get("/runs?state=queued")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/runs?state%3Dqueued"


def test_responses_carry_security_headers(app: Flask) -> None:
    for response in (app.test_client().get("/login"), app.test_client().get("/api/v1/runs")):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"


def test_a_new_password_ends_every_session(app: Flask, browser: FlaskClient) -> None:
    assert browser.get("/").status_code == 200
    with session_scope() as session:
        users.set_password(session, users.get_user(session, "erin"), "another long password")
    assert browser.get("/").status_code == 302
    assert log_in(app.test_client(), password="another long password").status_code == 302


def test_an_expired_or_revoked_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    with session_scope() as session:
        users.create_user(session, "ci", "developer", None)
        expiring = credentials.create_token(session, "ci", expires_at=utcnow() + dt.timedelta(hours=1))
        revoked = credentials.create_token(session, "ci")
    assert client.get("/api/v1/runs", headers=bearer(expiring.token)).status_code == 200
    assert client.get("/api/v1/runs", headers=bearer(revoked.token)).status_code == 200

    with session_scope() as session:
        past = utcnow() - dt.timedelta(seconds=1)
        session.execute(update(ApiToken).where(ApiToken.id == expiring.id).values(expires_at=past))
        credentials.revoke_token(session, revoked.id)
    for token in (expiring.token, revoked.token, "pdt_never-issued"):
        refused = client.get("/api/v1/runs", headers=bearer(token))
        assert refused.status_code == 401
        assert "unknown, expired or revoked" in refused.json["error"]
