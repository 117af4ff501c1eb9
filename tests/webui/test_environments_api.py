"""Admins route an environment to a queue and set its SSH host keys through the API and the admin
project page, as ``playdeck env set`` does: checked, audited, refused to everyone else."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import authorize
from tests.webui.account_testing import audited, browser_as, post_form

URL = "/api/v1/projects/sampleapp/environments/production"
KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
LINE = f"10.0.0.5 ssh-ed25519 {KEY}"
# What its hosts run now: no run recorded any yet.
NO_HOSTS = {"summary": "", "hosts": []}
# An environment's approval settings as they are until an admin asks for approvals.
NO_APPROVALS = {"approvals_required": 0, "approver_roles": [], "approver_users": [],
                "approval_timeout_seconds": 86400, "rollback_skips_approval": False}  # fmt: skip


def test_an_admin_routes_an_environment_and_sets_its_host_keys(client: FlaskClient) -> None:
    changed = client.patch(URL, json={"queue": "dc2", "known_hosts": f"# web\n\n{LINE}\n"})
    assert changed.status_code == 200, changed.json
    assert changed.json == {"project": "sampleapp", "environment": "production", "queue": "dc2",
                            "known_hosts_entries": 1, "known_hosts": f"{LINE}\n",
                            "requires_success_in": None, "hosts": NO_HOSTS, **NO_APPROVALS}  # fmt: skip
    assert client.get(URL).json == changed.json
    # The queue alone; back to the default queue with null.
    assert client.patch(URL, json={"queue": None}).json["queue"] is None
    assert client.get(URL).json["known_hosts_entries"] == 1
    listed = client.get("/api/v1/projects").json["projects"][0]["environments"]
    assert {env["name"]: env["queue"] for env in listed}["production"] is None
    assert audited("environment.update", actor="admin")[0] == (
        "admin",
        "sampleapp/production",
        {"before": {"queue": None, "known_hosts_entries": 0}, "after": {"queue": "dc2", "known_hosts_entries": 1}},
    )


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "body"),
        ({"queue": "no spaces allowed"}, 400, "queue"),
        ({"queue": 7}, 400, "queue"),
        ({"queue": "dc2\n"}, 400, "queue"),
        ({"known_hosts": "10.0.0.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB"}, 400, "known_hosts"),
        ({"known_hosts": ["a list"]}, 400, "known_hosts"),
        ({"queue": "dc2", "protected": True}, 400, "body"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(client: FlaskClient, body, status, field) -> None:
    refused = client.patch(URL, json=body)
    assert (refused.status_code, refused.json["field"]) == (status, field), refused.json
    assert client.get(URL).json == {"project": "sampleapp", "environment": "production", "queue": None,
                                    "known_hosts_entries": 0, "known_hosts": "",
                                    "requires_success_in": None, "hosts": NO_HOSTS, **NO_APPROVALS}  # fmt: skip


def test_unknown_environments_and_non_admins_are_refused(client: FlaskClient) -> None:
    assert client.patch("/api/v1/projects/sampleapp/environments/nosuch", json={"queue": "dc2"}).status_code == 404
    assert client.get("/api/v1/projects/nosuch/environments/production").status_code == 404
    assert client.patch(URL, data="queue=dc2", content_type="application/x-www-form-urlencoded").status_code == 415
    for role in ("viewer", "developer", "release_manager"):
        authorize(client, role, role)
        assert client.get(URL).status_code == 403
        assert client.patch(URL, json={"queue": "dc2"}).status_code == 403


def test_the_admin_project_page_edits_an_environments_queue_and_host_keys(app: Flask) -> None:
    admin = browser_as(app, "alice", "admin")
    page = "/admin/projects/sampleapp"
    action = f"{page}/environments/production/settings"

    saved = post_form(admin, action, {"queue": "dc2", "known_hosts": f"{LINE}\n"}, page=page)
    assert saved.status_code == 303
    shown = admin.get(page).get_data(as_text=True)
    assert re.search(r'data-environment="production">.*?class="queue">dc2<.*?class="known-hosts">1<', shown, re.S)
    assert LINE in shown  # the textarea holds the lines to edit

    refused = post_form(admin, action, {"queue": "", "known_hosts": "not a key line"}, page=page)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "known_hosts: line 1" in text and "not a key line" in text  # the typed text is kept to correct
    assert admin.get(URL).json["queue"] == "dc2"  # the refused form changed nothing
    assert [actor for actor, _, _ in audited("environment.update")] == ["alice"]
