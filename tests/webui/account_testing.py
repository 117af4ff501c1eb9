"""Helpers for the tests of the admin and account pages and the users API: browsers logged in with a
password (a session cookie, so forms need the CSRF token, as in a real browser), and audit rows."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from playdeck import audit
from playdeck.db import session_scope
from tests.conftest import make_user
from tests.webui.test_csrf_login import csrf_of, log_in

PASSWORD = "correct horse battery"


def browser_as(app: Flask, name: str, role: str, password: str = PASSWORD, **grants: Any) -> FlaskClient:
    """A browser logged in as ``name`` (created with ``role`` and ``password`` if missing)."""
    make_user(name, role, password=password, **grants)
    client = app.test_client()
    assert log_in(client, name, password).status_code == 302
    return client


def post_form(client: FlaskClient, url: str, data: dict[str, str] | None = None, *, page: str = "/account"):
    """Post a form as the browser does: with the session's CSRF token, read from one of its pages."""
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(url, data={**(data or {}), "csrf_token": token})


def logged_in(client: FlaskClient) -> bool:
    """Whether the browser's session still opens a page (instead of a redirect to the login)."""
    response = client.get("/account")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def audited(action: str, target: str | None = None, actor: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(actor, target, details) of the audit events of ``action`` (a prefix: "user."), oldest first."""
    with session_scope() as session:
        filters = audit.AuditFilters(action=action, target=target, actor=actor)
        events, _ = audit.list_events(session, filters, limit=200)
        return [(event.actor, event.target, event.details) for event in reversed(events)]


def token_row(page: str, name: str) -> str:
    """The row of the token named ``name`` in a page's token table."""
    found = re.search(rf'<tr data-token="\d+"[^>]*>\s*<td>\d+</td>\s*<td>{re.escape(name)}</td>.*?</tr>', page, re.S)
    assert found, f"no token {name!r} listed"
    return found.group(0)


def last_used(row: str) -> str:
    """What a token's row says of its last use ("never", "3 s ago")."""
    return re.search(r'class="last-used"[^>]*>([^<]*)<', row).group(1)
