"""The deploy form guides: hosts for Limit from the real inventory, what runs now, the playbook's real tags,
every error at once in plain words (page and API), confirmations, and "Edit and relaunch"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from markupsafe import escape

from playdeck.projects import form_hints
from playdeck.settings import get_settings
from tests.conftest import free_extra_vars
from tests.webui.webui_testing import RunDriver, run_count

DEPLOY_URL = "/projects/sampleapp/deploy"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _option(page: str, environment: str) -> str:
    found = re.search(rf'<option value="{environment}"[^>]*>', page, re.S)
    assert found, page
    return found.group(0)


def test_limit_offers_the_hosts_of_the_environments_inventory(client: FlaskClient) -> None:
    page = _text(client.get(f"{DEPLOY_URL}?environment=production"))
    # inventory/sampleapp/production.ini has web1-3 in group web; staging.ini web1-2.
    datalist = re.search(r'<datalist id="limit-hosts">(.*?)</datalist>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]+)">', datalist) == ["web1", "web2", "web3", "web"]
    assert 'list="limit-hosts"' in page
    assert 'Hosts of production: <span id="limit-host-names">web1, web2, web3</span>' in page
    assert 'data-hosts="web1,web2"' in _option(page, "staging")
    # A pattern is still accepted: the list offers, it does not restrict.
    assert 'name="limit"' in page and "host pattern" in page


def test_an_edited_inventory_is_listed_again(client: FlaskClient, tmp_path) -> None:
    """The host list is cached by the inventory file's size and time: a changed file is read again."""
    inventory = get_settings().inventory_dir / "sampleapp" / "staging.ini"
    original = inventory.read_text()
    try:
        assert 'data-hosts="web1,web2"' in _option(_text(client.get(DEPLOY_URL)), "staging")
        inventory.write_text(original.replace("web2\n", "web2\nweb9\n"))
        assert 'data-hosts="web1,web2,web9"' in _option(_text(client.get(DEPLOY_URL)), "staging")
    finally:
        inventory.write_text(original)


def _tagged_tasks(tag: str) -> str:
    return f"- name: a task\n  ansible.builtin.debug:\n    msg: hi\n  tags: [{tag}]\n"


def test_an_edited_playbook_is_listed_again_its_roles_within_the_recheck_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The playbook file is looked at on every load; the files under its directory (a role's tasks) at most
    every TREE_RECHECK_SECONDS of the clock, which this test moves itself."""
    now = [1000.0]
    monkeypatch.setattr(form_hints, "tree_stamps", form_hints.TreeStamps(clock=lambda: now[0]))
    playbook = tmp_path / "site.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  roles: [app]\n")
    role_tasks = tmp_path / "roles" / "app" / "tasks" / "main.yml"
    role_tasks.parent.mkdir(parents=True)
    role_tasks.write_text(_tagged_tasks("one"))

    def tags() -> list[str]:
        return form_hints.tags_lookup("site.yml", False, tmp_path).hints().names

    assert tags() == ["one"]
    role_tasks.write_text(_tagged_tasks("renamed"))
    # Within the recheck time the role's directory is not looked at again: the cached tags.
    now[0] += form_hints.TREE_RECHECK_SECONDS - 0.5
    assert tags() == ["one"]
    now[0] += 0.5
    assert tags() == ["renamed"]
    # An edit of the playbook itself shows at once.
    playbook.write_text(playbook.read_text() + "  tags: [play]\n")
    assert tags() == ["play", "renamed"]


def test_tags_and_placeholders_come_from_the_project(client: FlaskClient) -> None:
    free_extra_vars()  # the free extra variables' box is shown
    page = _text(client.get(DEPLOY_URL))
    assert 'Tags of the playbook: <span id="playbook-tags">cleanup, health, release, switch</span>' in page
    # Nothing unrelated to the project is suggested.
    for unrelated in ("greeting: hello", "app,config", "web1,web2"):
        assert f'placeholder="{unrelated}"' not in page
    assert 'placeholder="name: value (one per line)"' in page


def test_what_runs_now_is_shown_beside_the_version(client: FlaskClient, runs: RunDriver) -> None:
    page = _text(client.get(f"{DEPLOY_URL}?environment=staging"))
    assert "nothing deployed yet" in page

    for version, state in (("1.0.0", None), ("1.1.0", None)):
        run_id = runs.create(client, version=version)
        runs.start(run_id)
        runs.finish(run_id) if state is None else runs.finish(run_id, state)
    failed = runs.create(client, version="1.2.0-bad")
    runs.start(failed)
    from playdeck.runs.states import RunState

    runs.finish(failed, RunState.FAILED, rc=2)
    page = _text(client.get(f"{DEPLOY_URL}?environment=staging"))
    now = re.search(r'<strong id="now-running-version">(.*?)</strong>', page).group(1)
    assert now == "1.1.0"
    assert 'data-now-running="1.1.0"' in _option(page, "staging")
    assert 'data-now-running=""' in _option(page, "production")
    # The version field offers the versions deployed lately, newest first, not the failed one.
    versions = re.search(r'<datalist id="recent-versions">(.*?)</datalist>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]+)">', versions) == ["1.1.0", "1.0.0"]


BAD_FORM = {
    "environment": "staging",
    "version": "two words",
    "extra_vars": "workers: 3\nbroken\n",
    "limit": "@hosts.txt",
    "tags": "release, $(id)",
}


def test_every_error_is_shown_at_once_in_plain_words(client: FlaskClient) -> None:
    free_extra_vars()
    response = client.post(DEPLOY_URL, data=BAD_FORM)
    assert response.status_code == 400
    page = _text(response)
    listed = re.findall(r"<li>(.*?)</li>", re.search(r'id="form-errors">(.*?)</div>', page, re.S).group(1))
    assert [item.split(":")[0] for item in listed] == ["Extra variables", "Version", "Limit", "Tags"]
    assert escape("Extra variables: line 2: a mapping needs 'name: value'") in listed
    assert "4 things need mending" in page
    # Beside each field too, and no parser positions ("column", "<unicode string>").
    for field in ("extra_vars", "version", "limit", "tags"):
        assert f'id="error-field-{field}"' in page
    assert "column" not in page and "unicode string" not in page
    assert run_count() == 0


def test_the_api_answers_every_field_error_in_one_400(client: FlaskClient) -> None:
    body = {"project": "sampleapp", "environment": "staging", "version": "two words", "limit": "@x",
            "tags": ["ok", "$(id)"], "extra_vars": {"ansible_shell_executable": "/bin/evil"}}  # fmt: skip
    response = client.post("/api/v1/runs", json=body)
    assert response.status_code == 400
    answer = response.get_json()
    # The shape clients know: "error" and "field" (the first), plus every error in "errors".
    assert answer["field"] == "version" and answer["error"].startswith("version: must be")
    # (and the launch form's refusal of the undeclared name, after the fields' own errors)
    assert [error["field"] for error in answer["errors"]][:4] == ["version", "extra_vars", "limit", "tags"]
    assert answer["errors"][3]["message"] == "'$(id)' is not a valid tag (letters, digits, _ . -)"
    assert run_count() == 0


def test_a_protected_environment_asks_for_a_confirmation_naming_what_happens(client: FlaskClient) -> None:
    form = {"environment": "production", "version": "2.0.1", "limit": "web2"}
    asked = client.post(DEPLOY_URL, data=form)
    assert asked.status_code == 400 and run_count() == 0
    box = re.search(r'<section class="confirmation" id="confirmation">(.*?)</section>', _text(asked), re.S).group(1)
    assert "Deploy sampleapp 2.0.1 to production" in box and "on web2" in box
    assert '<input type="checkbox" name="confirm" value="production">' in box
    # Confirming another environment does not count.
    assert client.post(DEPLOY_URL, data={**form, "confirm": "staging"}).status_code == 400
    # The page's hidden field (empty) and the ticked box, as a browser sends them.
    done = client.post(DEPLOY_URL, data={**form, "confirm": ["", "production"]})
    assert done.status_code == 303 and run_count() == 1
    # An unprotected environment does not ask.
    assert client.post(DEPLOY_URL, data={**form, "environment": "staging"}).status_code == 303


def test_cancel_and_relaunch_ask_first_without_javascript(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client, version="3.1.0", limit="web1")
    asked = client.post(f"/runs/{run_id}/cancel")
    assert asked.status_code == 200
    page = _text(asked)
    assert "Cancel this run?" in page and "sampleapp" in page and "staging" in page and "3.1.0" in page
    assert "<dt>Hosts</dt><dd>web1</dd>" in page
    assert '<input type="hidden" name="confirm" value="yes">' in page
    assert client.get(f"/api/v1/runs/{run_id}").json["state"] == "queued"
    assert client.post(f"/runs/{run_id}/cancel", data={"confirm": "yes"}).status_code == 303
    assert client.get(f"/api/v1/runs/{run_id}").json["state"] == "canceled"

    relaunch = client.post(f"/runs/{run_id}/relaunch", data={"hosts": "all"})
    assert relaunch.status_code == 200 and "Relaunch this run" in _text(relaunch)
    assert '<input type="hidden" name="hosts" value="all">' in _text(relaunch)
    assert run_count() == 1
    # The run page's forms carry the question the dialog asks (confirm.js).
    run_page = _text(client.get(f"/runs/{run_id}"))
    assert f'data-confirm="Relaunch run #{run_id}: sampleapp in staging (3.1.0, hosts: web1)' in run_page


def test_unprotect_asks_first(app, client: FlaskClient) -> None:
    url = "/admin/projects/sampleapp/environments/production/protected"
    asked = client.post(url, data={"protected": "0"})
    assert asked.status_code == 200 and "Unprotect sampleapp production?" in _text(asked)
    page = _text(client.get("/admin/projects/sampleapp"))
    assert re.search(r'data-environment="production">.*?class="protected">yes<', page, re.S)
    assert 'data-confirm="Unprotect sampleapp production?' in page
    assert client.post(url, data={"protected": "0", "confirm": "yes"}).status_code == 303
    # Protecting again is not risky: no question.
    assert client.post(url, data={"protected": "1"}).status_code == 303


def test_edit_and_relaunch_fills_the_form_from_a_finished_run(client: FlaskClient, runs: RunDriver) -> None:
    free_extra_vars()
    run_id = runs.create(client, version="4.2.0", limit="web2", tags=["release", "switch"], check=True,
                         extra_vars={"workers": 3, "motd": "hi"})  # fmt: skip
    runs.start(run_id)
    runs.finish(run_id)
    run_page = _text(client.get(f"/runs/{run_id}"))
    assert f'href="{DEPLOY_URL}?from_run={run_id}">Edit and relaunch</a>' in run_page

    page = _text(client.get(f"{DEPLOY_URL}?from_run={run_id}"))
    assert f'Filled in from <a href="/runs/{run_id}">run #{run_id}</a>' in page
    assert 'name="version" id="version" value="4.2.0"' in page
    assert 'name="limit" id="limit" value="web2"' in page
    assert 'name="tags" id="tags" value="release, switch"' in page
    assert re.search(r'<input type="checkbox" name="check" value="1" checked>', page)
    assert "motd: hi\nworkers: 3\n</textarea>" in page
    assert re.search(r'<option value="staging" selected', page)
    # Another project's run, or no such run: 404.
    assert client.get("/projects/sampleapp/deploy?from_run=999999").status_code == 404
