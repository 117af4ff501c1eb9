"""`playdeck promote` end to end: the real web (gunicorn) on MariaDB + Redis, a real worker running each run's
own checkout of a git repository made by the test with ansible-runner. A successful staging deploy is promoted
to production with the same commit and parameters, linked to it; production, set to accept only what succeeded in
staging, refuses another commit with the reason; what cannot be promoted exits 2 with the API's reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from playdeck import db
from testing.git_servers import RepoBuilder
from tests.cli.cli_support import playdeck
from tests.conftest import api_headers, free_extra_vars, make_user
from tests.git.projects import add_staged_project

PLAYBOOK = """\
- name: Record what this run deploys
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the commit and the colour it was given
      ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ playdeck_run_id }}.json"
        content: "{{ record | to_json }}"
      vars:
        record:
          commit: "{{ playdeck_commit }}"
          colour: "{{ colour }}"
          app: "{{ lookup('file', playbook_dir ~ '/../app.txt') }}"
"""
INVENTORY = (
    "[app]\nweb1\n\n[all:vars]\nansible_connection=local\nansible_python_interpreter={{ ansible_playbook_python }}\n"
)


@pytest.fixture
def shop(production_web_api: str, tmp_path: Path) -> RepoBuilder:
    """Git project shop (staging, protected production): main has "one" (tag v1) then "two"."""
    repo = RepoBuilder(tmp_path / "repos", "shop")
    repo.commit("one", {"deploy/site.yml": PLAYBOOK, "deploy/inventory.ini": INVENTORY, "app.txt": "app one\n"})
    repo.tag("v1")
    repo.commit("two", {"app.txt": "app two\n"})
    with db.session_scope() as session:
        add_staged_project(session, "shop", repo.url, git_cache_seconds=0)
    free_extra_vars("shop")
    return repo


def queued_id(output: str) -> int:
    return int(re.search(r"Run (\d+) (?:queued|running|successful)", output).group(1))


def recorded(out: Path, run_id: int) -> dict:
    return json.loads((out / f"{run_id}.json").read_text())


def test_promote_a_staging_run_to_production_and_refuse_what_staging_never_ran(
    shop: RepoBuilder, production_web_api: str, start_worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_worker()
    out = tmp_path / "out"
    out.mkdir()
    variables = json.dumps({"out_dir": str(out), "colour": "blue"})
    staged = playdeck("deploy", "shop", "--env", "staging", "--ref", "v1", "--extra-vars", variables, "--wait")
    assert staged.returncode == 0, staged.stdout + staged.stderr
    staging = queued_id(staged.stdout)

    rule = playdeck("env", "set", "shop", "production", "--requires-success-in", "staging")
    assert rule.returncode == 0, rule.stderr
    assert json.loads(rule.stdout)["requires_success_in"] == "staging"
    refused = playdeck("deploy", "shop", "--env", "production", "--ref", "main", "--extra-vars", variables)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert (
        f"production accepts only what succeeded in staging first: commit {shop.head('main')[:12]} (main) has no "
        "successful deploy in staging"
    ) in refused.stderr

    shop.commit("three", {"app.txt": "app three\n"})  # main moves on: the promotion deploys v1's commit
    promoted = playdeck("promote", str(staging), "--to", "production", "--wait", timeout=180)

    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert f"Promotion of run {staging} to production" in promoted.stdout
    production = queued_id(promoted.stdout.split("Promotion of run", 1)[1])
    run = requests.get(f"{production_web_api}/api/v1/runs/{production}", headers=api_headers(), timeout=10).json()
    assert (run["environment"], run["state"], run["promoted_from"]) == ("production", "successful", staging)
    assert (run["commit"], run["extra_vars"]) == (shop.head("v1"), {"out_dir": str(out), "colour": "blue"})
    # What the playbook saw: the same commit's files and the same variables as in staging.
    assert recorded(out, production) == recorded(out, staging) == {
        "commit": shop.head("v1"), "colour": "blue", "app": "app one"
    }  # fmt: skip
    listed = requests.get(f"{production_web_api}/runs/{staging}", headers=api_headers(), timeout=10).text
    assert f'production in <a href="/runs/{production}">run #{production}</a>' in listed

    again = playdeck("promote", str(production), "--to", "production")
    assert again.returncode == 2 and f"run {production} already deployed to production" in again.stderr
    monkeypatch.setenv("PLAYDECK_TOKEN", make_user("dev", "developer", projects=("shop",)))
    developer = playdeck("promote", str(staging), "--to", "production")
    assert developer.returncode == 2, developer.stdout + developer.stderr
    assert "environment production is protected: deploying there needs a release manager" in developer.stderr
