"""Registering and editing a project in the browser (/admin/projects/new, /admin/projects/<name>/edit): the
form with a CSRF token, errors next to their fields with the input kept (never a secret), and the release
manager's edit of a project granted to them."""

from __future__ import annotations

import html
import re

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from playdeck import db, projects
from tests.conftest import use_key
from tests.core.test_secrets import openssh_key
from tests.webui.account_testing import audited, browser_as, post_form

TOKEN = "glpat-0123456789abcdef"


@pytest.fixture
def keyed(monkeypatch) -> None:
    use_key(monkeypatch, Fernet.generate_key().decode())


def registration(**more: str) -> dict[str, str]:
    return {
        "name": "shop",
        "description": "The shop",
        "source_kind": "git",
        "git_url": "https://git.example.test/shop.git",
        "git_branch": "main",
        "git_cache_seconds": "60",
        "playbook": "deploy/site.yml",
        "environment_rows": "2",
        "env-0-name": "staging",
        "env-0-inventory": "deploy/staging.ini",
        "env-1-name": "production",
        "env-1-inline_inventory": "[web]\nweb1 ansible_host=127.0.0.1\n",
        "env-1-protected": "1",
        "branch_environments": "main=staging\n",
        **more,
    }


def field_error(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" data-field="{re.escape(field)}">([^<]*)</p>', page)
    assert found, f"no error shown next to {field}"
    return html.unescape(found.group(1))


def test_an_admin_registers_a_git_project_with_the_form(app: Flask, keyed) -> None:
    admin = browser_as(app, "ada", "admin")
    page = admin.get("/admin/projects/new")
    assert page.status_code == 200 and 'name="csrf_token"' in page.get_data(as_text=True)
    done = post_form(admin, "/admin/projects/new", registration(git_username="ci", git_password=TOKEN),
                     page="/admin/projects/new")  # fmt: skip
    assert done.status_code == 303, done.get_data(as_text=True)
    with db.session_scope() as session:
        project = projects.get_project(session, "shop")
        assert (project.source_kind, project.git_url, project.git_branch) == (
            "git",
            "https://git.example.test/shop.git",
            "main",
        )
        assert {env.name: (env.inventory, env.protected) for env in project.environments} == {
            "production": ("", True), "staging": ("deploy/staging.ini", False)}  # fmt: skip
        assert project.branch_environments == {"main": "staging"}
    edit = admin.get("/admin/projects/shop/edit").get_data(as_text=True)
    assert "web1 ansible_host=127.0.0.1" in edit and TOKEN not in edit
    assert 'value="deploy/site.yml"' in edit
    # Refused without the CSRF token.
    assert admin.post("/admin/projects/new", data=registration(name="other")).status_code == 403


def test_errors_are_shown_next_to_their_field_with_the_input_kept(app: Flask, keyed) -> None:
    admin = browser_as(app, "ada", "admin")
    key = openssh_key()
    refused = post_form(
        admin,
        "/admin/projects/new",
        registration(**{"env-1-inline_inventory": "[web\nweb1 = \n"}, git_ssh_key=key, description="kept"),
        page="/admin/projects/new",
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert field_error(page, "environments.production.inline_inventory").startswith(
        "environments.production.inline_inventory: ansible-inventory:"
    )
    assert 'value="kept"' in page and "[web\nweb1 = \n" in html.unescape(page)
    assert "PRIVATE KEY" not in page
    refused = post_form(admin, "/admin/projects/new", registration(git_url="ext::sh%20-c%20touch%20/tmp/x"),
                        page="/admin/projects/new")  # fmt: skip
    assert "transport::address syntax is not allowed" in field_error(refused.get_data(as_text=True), "git_url")
    with db.session_scope() as session:
        assert [project.name for project in projects.list_projects(session)] == ["sampleapp"]


def test_a_release_manager_edits_a_granted_project_but_does_not_register_or_archive(app: Flask, keyed) -> None:
    admin = browser_as(app, "ada", "admin")
    post_form(admin, "/admin/projects/new", registration(), page="/admin/projects/new")
    manager = browser_as(app, "rita", "release_manager", projects=("shop",))
    outsider = browser_as(app, "olga", "release_manager")
    assert manager.get("/admin/projects/new").status_code == 403
    assert outsider.get("/admin/projects/shop/edit").status_code == 403
    form = manager.get("/admin/projects/shop/edit").get_data(as_text=True)
    assert "Archive shop" not in form
    typed = registration(description="Renamed shop", git_branch="release", **{"env-0-queue": "dc2"})
    typed.update({"env-0-existing": "1", "env-1-existing": "1"})
    saved = post_form(manager, "/admin/projects/shop/edit", typed, page="/admin/projects/shop/edit")
    assert saved.status_code == 303, saved.get_data(as_text=True)
    with db.session_scope() as session:
        project = projects.get_project(session, "shop")
        assert (project.description, project.git_branch) == ("Renamed shop", "release")
        assert {env.name: env.queue for env in project.environments} == {"production": None, "staging": "dc2"}
    ((actor, target, details),) = audited("project.update")
    assert (actor, target) == ("rita", "shop")
    # Only the changes: the unchanged inline inventory was neither re-checked nor rewritten.
    assert sorted(details["after"]) == ["description", "environments.staging", "git_branch"]
    assert post_form(manager, "/admin/projects/shop/archive", page="/admin/projects/shop/edit").status_code == 403
    archived = post_form(admin, "/admin/projects/shop/archive", page="/admin/projects")
    assert archived.status_code == 303
    with db.session_scope() as session:
        assert projects.get_project(session, "shop").archived_at is not None
