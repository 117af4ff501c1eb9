"""Launch forms over the web: admins declare a project's form (API and admin page), launchers see it as typed
inputs on the deploy form with errors shown on the input at fault, and the API refuses undeclared names and
bad values with a 400 that names the variable. A secret input is never shown again."""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from playdeck.masking import REDACTED
from tests.conftest import as_user, configure
from tests.webui.webui_testing import RUN, run_count
from webui import create_app

URL = "/api/v1/projects/sampleapp/launch-form"
DEPLOY_URL = "/projects/sampleapp/deploy"
PASSWORD = "launch-s3cret-value"
EVERY_TYPE = [
    {"name": "release_name", "type": "string", "label": "Release name", "pattern": "[a-z]+", "required": True},
    {"name": "workers", "type": "integer", "min": 1, "max": 8, "default": 2, "help": "Processes per host."},
    {"name": "maintenance", "type": "boolean"},
    {"name": "region", "type": "choice", "choices": ["eu", "us"], "default": "eu"},
    {"name": "features", "type": "multi-choice", "choices": ["search", "billing"]},
    {"name": "notes", "type": "multiline", "max": 200},
    {"name": "db_password", "type": "secret"},
]


def text(response) -> str:
    return response.get_data(as_text=True)


def developer() -> dict[str, str]:
    return as_user("dev", "developer", projects=("sampleapp",))


@pytest.fixture
def keyed(monkeypatch, tmp_path) -> Flask:
    configure(monkeypatch, data_dir=str(tmp_path / "data"), secret_key=Fernet.generate_key().decode())
    return create_app({"TESTING": True})


def test_the_sample_form_is_read_by_anyone_and_declared_by_admins_only(client: FlaskClient) -> None:
    shown = client.get(URL, headers=as_user("viewer", "viewer")).json
    assert (shown["source"], shown["file"], shown["allow_free_extra_vars"]) == (
        "file", "sampleapp/deploy.launch.yml", False,
    )  # fmt: skip
    assert shown["fields"][0] == {
        "name": "keep_releases", "type": "integer", "label": "Releases to keep", "default": 3,
        "help": "Older release directories are removed after a successful deploy.", "min": 1, "max": 20,
    }  # fmt: skip
    assert client.put(URL, json={"fields": []}, headers=developer()).status_code == 403

    declared = client.put(URL, json={"fields": EVERY_TYPE, "allow_free_extra_vars": True})
    assert declared.status_code == 200, declared.json
    assert declared.json["source"] == "project" and [f["name"] for f in declared.json["fields"]][:2] == [
        "release_name", "workers",
    ]  # fmt: skip
    assert client.get(URL).json == declared.json
    # null: the file beside the playbook applies again.
    assert client.put(URL, json={"fields": None}).json["source"] == "file"


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"fields": [{"name": "n", "type": "integer", "min": 5, "max": 1}]}, "fields.n.max", "must not be below min"),
        ({"fields": [{"name": "ansible_user", "type": "string"}]}, "fields[0].name", "reserved"),
        ({"fields": [{"name": "s", "type": "string", "pattern": "(a+)+$"}]}, "fields.s.pattern", "exponential"),
        ({"fields": "keep_releases"}, "fields", "must be a list"),
        ({"fields": [], "allow_free_extra_vars": "yes"}, "allow_free_extra_vars", "true or false"),
        ({"allow_free_extra_vars": True}, "fields", "is required"),
        ({"fields": [], "colour": "red"}, "body", "unknown field(s) colour"),
    ],
)
def test_a_bad_declaration_is_a_400_naming_the_field(client: FlaskClient, body, field, fragment) -> None:
    refused = client.put(URL, json=body)
    assert refused.status_code == 400 and refused.json["field"] == field and fragment in refused.json["error"]
    assert client.get(URL).json["source"] == "file"


@pytest.mark.parametrize(
    ("extra_vars", "message"),
    [
        ({"keep_releases": 21}, "keep_releases: must be between 1 and 20"),
        ({"keep_releases": "3"}, "keep_releases: must be a whole number"),
        ({"sampleapp_fail_health": "no"}, "sampleapp_fail_health: must be true or false"),
        ({"releases_dir": "/tmp/x"}, "extra_vars: 'releases_dir' is not a variable of this project's launch form"),
    ],
)
def test_a_developer_launching_a_bad_value_or_an_undeclared_name_gets_a_400(client, extra_vars, message) -> None:
    refused = client.post("/api/v1/runs", json={**RUN, "extra_vars": extra_vars}, headers=developer())
    assert refused.status_code == 400
    assert refused.json["field"] == "extra_vars" and refused.json["error"].startswith(message)
    assert run_count() == 0


def test_a_developer_launching_declared_values_gets_a_201_with_the_defaults(client: FlaskClient) -> None:
    made = client.post("/api/v1/runs", json={**RUN, "extra_vars": {"keep_releases": 20}}, headers=developer())
    assert made.status_code == 201, made.json
    assert made.json["extra_vars"] == {"keep_releases": 20, "sampleapp_fail_health": False}


def test_the_deploy_form_renders_the_sample_form_as_typed_inputs(client: FlaskClient) -> None:
    page = text(client.get(DEPLOY_URL))
    assert re.search(r'<input type="number" step="1" name="var.keep_releases"[^>]* value="3" min="1" max="20">', page)
    assert '<input type="checkbox" name="var.sampleapp_fail_health" value="1">' in page
    assert "Older release directories are removed" in page
    # Locked down: no free extra variables to type.
    assert 'name="extra_vars"' not in page


def test_a_refused_value_is_shown_on_its_own_input_and_the_form_kept(client: FlaskClient) -> None:
    form = {"environment": "staging", "version": "1.0", "var.keep_releases": "21", "var.sampleapp_fail_health": "1"}
    refused = client.post(DEPLOY_URL, data=form)
    assert refused.status_code == 400
    page = text(refused)
    field = re.search(r'<div class="launch-field invalid" data-variable="keep_releases">(.*?)</div>', page, re.S)
    assert field, page
    assert 'aria-invalid="true"' in field.group(1) and 'value="21"' in field.group(1)
    assert '<p class="field-error" id="error-keep_releases" role="alert">must be between 1 and 20' in field.group(1)
    # Listed at the top too, named by its input's title.
    assert "<li>Releases to keep: must be between 1 and 20</li>" in page
    assert 'name="var.sampleapp_fail_health" value="1" checked' in page
    assert run_count() == 0

    typo = text(client.post(DEPLOY_URL, data={**form, "var.keep_releases": "three"}))
    assert 'id="error-keep_releases" role="alert">must be a whole number' in typo

    accepted = client.post(DEPLOY_URL, data={**form, "var.keep_releases": "20"})
    assert accepted.status_code == 303
    run = client.get(accepted.headers["Location"].replace("/runs/", "/api/v1/runs/")).json
    assert run["extra_vars"] == {"keep_releases": 20, "sampleapp_fail_health": True}


def test_every_type_has_its_input_and_a_secret_is_never_drawn_back(keyed: Flask) -> None:
    admin = keyed.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = as_user("admin")["Authorization"]
    assert admin.put(URL, json={"fields": EVERY_TYPE}).status_code == 200
    page = text(admin.get(DEPLOY_URL))
    assert re.search(r'<input autocomplete="off" name="var.release_name" required[^>]*pattern="\[a-z\]\+">', page)
    assert re.search(r'<select multiple size="2" name="var.features"', page)
    assert re.search(r'<option value="eu" selected>eu</option>', page)
    assert re.search(r'<textarea rows="4" spellcheck="false" name="var.notes"[^>]*maxlength="200">', page)
    assert re.search(r'<input type="password" autocomplete="new-password" name="var.db_password">', page)

    form = {"environment": "staging", "var.release_name": "Bad Name", "var.db_password": PASSWORD,
            "var.features": ["search", "billing"], "var.notes": "line 1\nline 2"}  # fmt: skip
    refused = admin.post(DEPLOY_URL, data=form)
    assert refused.status_code == 400 and "must match the pattern [a-z]+" in text(refused)
    assert PASSWORD not in text(refused)
    assert re.search(r'<option value="billing" selected>', text(refused))

    accepted = admin.post(DEPLOY_URL, data={**form, "var.release_name": "spring"})
    assert accepted.status_code == 303, text(accepted)
    run_id = int(accepted.headers["Location"].rsplit("/", 1)[1])
    run = admin.get(f"/api/v1/runs/{run_id}").json
    assert run["extra_vars"] == {
        "release_name": "spring", "workers": 2, "maintenance": False, "region": "eu",
        "features": ["search", "billing"], "notes": "line 1\nline 2", "db_password": REDACTED,
    }  # fmt: skip
    for shown in (
        text(admin.get(f"/runs/{run_id}")),
        text(admin.get("/api/v1/runs")),
        text(admin.get("/api/v1/audit")),
    ):
        assert PASSWORD not in shown

    # The value is gone once the run ends: a relaunch says to deploy again.
    assert admin.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
    relaunched = admin.post(f"/api/v1/runs/{run_id}/relaunch")
    assert relaunched.status_code == 400 and relaunched.json["field"] == "extra_vars"
    assert "secret input(s) db_password, which are not kept after a run ends: deploy again" in relaunched.json["error"]


def test_admins_declare_the_form_on_the_project_page(client: FlaskClient) -> None:
    page = text(client.get("/admin/projects/sampleapp"))
    assert "Declared in <code>sampleapp/deploy.launch.yml</code>" in page

    bad = client.post(
        "/admin/projects/sampleapp/launch-form", data={"launch_form": "fields:\n  - {name: n, type: float}\n"}
    )
    assert bad.status_code == 400 and "fields.n.type: must be one of" in text(bad)
    assert "{name: n, type: float}" in text(bad)

    declaration = "fields:\n  - {name: region, type: choice, choices: [eu, us], required: true}\n"
    saved = client.post(
        "/admin/projects/sampleapp/launch-form", data={"launch_form": declaration, "allow_free_extra_vars": "1"}
    )
    assert saved.status_code == 303
    assert client.get(URL).json == {
        "source": "project", "file": "sampleapp/deploy.launch.yml", "allow_free_extra_vars": True,
        "fields": [{"name": "region", "type": "choice", "required": True, "choices": ["eu", "us"]}],
    }  # fmt: skip
    page = text(client.get("/admin/projects/sampleapp"))
    assert "Declared here" in page and "name: region" in page
    # Free extra vars allowed: the deploy form offers the textarea beside the declared input.
    deploy = text(client.get(DEPLOY_URL))
    assert 'name="var.region"' in deploy and 'name="extra_vars"' in deploy

    cleared = client.post("/admin/projects/sampleapp/launch-form", data={"launch_form": ""})
    assert cleared.status_code == 303 and client.get(URL).json["source"] == "file"
