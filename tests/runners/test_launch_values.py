"""Launch values are data (issue #20): a Jinja template in a value a launcher sends never runs, under
--check neither, and reaches the playbook as the literal text; the sample project's paths stay under the
apps dir whatever a launcher passes. The security review's attacks, sent through the API with a
developer's token and executed by a real worker (MariaDB + Redis, ansible-runner, ansible-playbook)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from playdeck import db, projects
from playdeck.runs.queries import get_run
from playdeck.settings import Settings
from tests.conftest import TERMINAL, free_extra_vars, wait_for_state, web_client


def pipe(command: str) -> str:
    """The review's payload: run ``command`` on the worker host as soon as Ansible templates the value."""
    return "{{ lookup('pipe', '" + command + "') }}"


def launch(client: FlaskClient, project: str, environment: str, extra_vars: dict[str, Any], check: bool = False) -> int:
    body = {"project": project, "environment": environment, "extra_vars": extra_vars, "check": check}
    response = client.post("/api/v1/runs", json=body)
    assert response.status_code == 201, response.json
    return response.json["id"]


def refused(client: FlaskClient, project: str, environment: str, extra_vars: dict[str, Any]) -> str:
    """The API's message when it refuses the launch (400 on extra_vars), with no run queued."""
    body = {"project": project, "environment": environment, "extra_vars": extra_vars}
    response = client.post("/api/v1/runs", json=body)
    assert (response.status_code, response.json["field"]) == (400, "extra_vars"), response.json
    return response.json["error"]


def reason(run_id: int) -> str:
    with db.session_scope() as session:
        return get_run(session, run_id).reason or ""


@pytest.fixture
def echo_project(test_playbooks: Settings) -> Settings:
    """Project "echo" (tests/playbooks/echo_vars.yml): writes the value of ``launched`` to ``echo_file``."""
    with db.session_scope() as session:
        projects.add_project(session, "echo", "echo_vars.yml", {"dev": "local2.ini"})
    return test_playbooks


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_templates_in_launch_values_never_run_and_arrive_as_text(
    echo_project: Settings, start_worker, tmp_path: Path, check: bool
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()

    def touch(name: str) -> str:
        return pipe(f"touch {markers / name}")

    launched = {
        "plain": touch("plain"),
        "in_list": ["ok", touch("list"), [touch("nested-list")]],
        "in_dict": {"k": touch("dict"), "deeper": {"k": touch("nested-dict")}},
        touch("key"): "a key",
        "statement": "{% if lookup('pipe', 'touch " + str(markers / "statement") + "') %}x{% endif %}",
        "comment": "{# stays #}",
        # Plain data keeps its type: a string that looks like a number, an empty one, numbers, null.
        "numeric_text": "1.10",
        "empty": "",
        "number": 3,
        "flag": True,
        "nothing": None,
    }
    echo_file = tmp_path / "received.json"
    start_worker()
    client = web_client("dev", "developer", projects=("echo",))

    run_id = launch(client, "echo", "dev", {"launched": launched, "echo_file": str(echo_file)}, check)

    assert wait_for_state(run_id, TERMINAL) == "successful", reason(run_id)
    assert sorted(path.name for path in markers.iterdir()) == []
    assert json.loads(echo_file.read_text()) == launched


def test_the_reviews_attack_on_the_sample_project_runs_nothing(production: Settings, start_worker, tmp_path: Path):
    """The sample's first task reads keep_releases: templated, the command would run and the deploy pass."""
    marker = tmp_path / "pwned"
    value = pipe(f"touch {marker}; echo 3")
    start_worker()
    client = web_client("dev", "developer", projects=("sampleapp",))
    # The sample's launch form takes keep_releases as a whole number only: refused before any run.
    assert refused(client, "sampleapp", "staging", {"keep_releases": value})
    # Where an admin lets free extra vars through, the value still reaches the playbook as text only.
    free_extra_vars("sampleapp")

    run_id = launch(client, "sampleapp", "staging", {"keep_releases": value}, check=True)

    assert wait_for_state(run_id, TERMINAL) == "failed"
    assert not marker.exists()
    # The first task says what it got: the text itself, not a command's output.
    assert f"keep_releases >= 1 (got '{value}')" in reason(run_id)


def test_a_developer_cannot_move_the_sample_deploy_out_of_the_apps_dir(
    production: Settings, start_worker, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    start_worker()
    client = web_client("dev", "developer", projects=("sampleapp",))
    # The sample's launch form does not declare releases_dir: refused before any run.
    assert "releases_dir" in refused(client, "sampleapp", "staging", {"releases_dir": str(elsewhere)})
    # Where an admin lets free extra vars through, the playbook's own check refuses the path.
    free_extra_vars("sampleapp")

    run_id = launch(client, "sampleapp", "staging", {"releases_dir": str(elsewhere)})

    assert wait_for_state(run_id, TERMINAL) == "failed"
    assert "releases_dir, release_dir and current_link are not parameters" in reason(run_id)
    assert not elsewhere.exists()
    assert not (production.apps_dir / "sampleapp").exists()
