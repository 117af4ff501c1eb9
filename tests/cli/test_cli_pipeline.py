"""`playdeck pipeline run|resume|show|list` end to end: the real web (gunicorn) on MariaDB + Redis, a real worker
running each step's own checkout of a git repository made by the test, and the reaper's pipelines duty advancing
the steps. Deploy staging → smoke playbook → deploy production: the smoke test fails (exit 1), a fix commit is
pushed, the resume keeps the commit the pipeline run started with, a new pipeline run takes the new one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from playdeck import db, duties
from playdeck.pipelines import engine
from playdeck.settings import get_settings
from testing.git_servers import RepoBuilder
from tests.cli.cli_support import playdeck
from tests.conftest import api_headers, make_user
from tests.git.projects import add_staged_project

DEPLOY = """\
- name: Deploy
  hosts: all
  gather_facts: false
  tasks:
    - name: Record what this run deploys
      ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ playdeck_run_id }}.json"
        content: "{{ {'commit': playdeck_commit, 'environment': playdeck_environment, 'app': app} | to_json }}"
      vars:
        app: "{{ lookup('file', playbook_dir ~ '/../app.txt') }}"
"""
# Fails until the test says the environment is healthy: a smoke test that a fix (of the environment) mends.
SMOKE = """\
- name: Smoke test
  hosts: all
  gather_facts: false
  tasks:
    - name: Record the commit the smoke test ran from
      ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ playdeck_run_id }}.json"
        content: "{{ {'commit': playdeck_commit, 'environment': playdeck_environment, 'smoke': true} | to_json }}"
    - name: The site answers
      ansible.builtin.assert:
        that: (out_dir ~ '/healthy') is exists
        fail_msg: the site does not answer
"""
INVENTORY = (
    "[app]\nweb1\n\n[all:vars]\nansible_connection=local\n"
    "ansible_python_interpreter={{{{ ansible_playbook_python }}}}\nout_dir={out}\n"
)
STEPS = [
    {"name": "staging", "kind": "deploy", "environment": "staging"},
    {"name": "smoke", "kind": "playbook", "environment": "staging", "playbook": "deploy/smoke.yml"},
    {"name": "production", "kind": "deploy", "environment": "production"},
]


@pytest.fixture
def shop(production_web_api: str, tmp_path: Path) -> RepoBuilder:
    """Git project shop (staging, protected production) and its pipeline "release"."""
    out = tmp_path / "out"
    out.mkdir()
    repo = RepoBuilder(tmp_path / "repos", "shop")
    repo.commit("one", {"deploy/site.yml": DEPLOY, "deploy/smoke.yml": SMOKE,
                        "deploy/inventory.ini": INVENTORY.format(out=out), "app.txt": "app one\n"})  # fmt: skip
    with db.session_scope() as session:
        add_staged_project(session, "shop", repo.url, git_cache_seconds=0)
    created = requests.post(f"{production_web_api}/api/v1/pipelines", headers=api_headers(), timeout=10,
                            json={"project": "shop", "name": "release", "steps": STEPS})  # fmt: skip
    assert created.status_code == 201, created.text
    return repo


@pytest.fixture
def reaper_pipelines() -> Iterator[None]:
    """The reaper's pipelines duty, on its own thread as the reaper keeps it."""
    stop = duties.start(get_settings(), [engine.PIPELINES])
    yield
    stop.set()


def pipeline_run(url: str, output: str) -> dict:
    found = int(re.search(r"Pipeline run (\d+)", output).group(1))
    return requests.get(f"{url}/api/v1/pipeline-runs/{found}", headers=api_headers(), timeout=10).json()


def recorded(out: Path, run_id: int) -> dict:
    return json.loads((out / f"{run_id}.json").read_text())


def test_a_failed_smoke_test_resumed_after_a_fix_keeps_its_commit_and_a_new_run_takes_the_new_one(
    shop: RepoBuilder, production_web_api: str, start_worker, reaper_pipelines, tmp_path: Path, monkeypatch
) -> None:
    start_worker()
    out, old = tmp_path / "out", shop.head("main")
    failed = playdeck("pipeline", "run", "shop", "release", "--ref", "main", "--wait", timeout=300)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "smoke: failed" in failed.stdout and "production: skipped" in failed.stdout
    first = pipeline_run(production_web_api, failed.stdout)
    assert (first["state"], first["failed_step"], first["commit"]) == ("failed", "smoke", old)
    staging_run = first["steps"][0]["run_id"]

    shop.commit("two", {"app.txt": "app two\n"})  # the fix is pushed; main moves on
    (out / "healthy").touch()
    resumed = playdeck("pipeline", "resume", str(first["id"]), "--wait", timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = pipeline_run(production_web_api, resumed.stdout)
    assert (after["state"], after["commit"], after["resumes"]) == ("succeeded", old, 1)
    steps = {step["name"]: step for step in after["steps"]}
    assert steps["staging"]["run_id"] == staging_run  # done before: not run again
    assert steps["smoke"]["attempts"] == 2
    # The resumed steps ran the commit the pipeline run started with, not main's new head.
    assert recorded(out, steps["smoke"]["run_id"]) == {"commit": old, "environment": "staging", "smoke": True}
    assert recorded(out, steps["production"]["run_id"]) == {
        "commit": old,
        "environment": "production",
        "app": "app one",
    }

    again = playdeck("pipeline", "run", "shop", "release", "--ref", "main", "--wait", timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    second = pipeline_run(production_web_api, again.stdout)
    new = shop.head("main")
    assert (second["state"], second["commit"]) == ("succeeded", new) and new != old
    for step in second["steps"]:
        assert recorded(out, step["run_id"])["commit"] == new

    shown = playdeck("pipeline", "show", str(first["id"]))
    assert shown.returncode == 0 and re.search(r"^smoke\s+playbook\s+succeeded", shown.stdout, re.M)
    listed = playdeck("pipeline", "list", "--runs", "--project", "shop")
    assert re.search(rf"^{second['id']}\s+shop\s+release\s+succeeded\s+{new}", listed.stdout, re.M)
    running = playdeck("pipeline", "resume", str(second["id"]))
    assert running.returncode == 2 and "only a failed pipeline run is resumed" in running.stderr

    monkeypatch.setenv("PLAYDECK_TOKEN", make_user("dev", "developer", projects=("shop",)))
    developer = playdeck("pipeline", "run", "shop", "release", "--ref", "main")
    assert developer.returncode == 2, developer.stdout + developer.stderr
    assert "production is protected" in developer.stderr
