"""`playdeck deploy` and `playdeck runs` against the real web app: good input queues a run, bad input
is refused with a message and an exit code, never a traceback, and queues nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.cli.cli_support import playdeck
from tests.conftest import api_headers, free_port, make_user
from tests.webui.test_built_in_projects import BUILT_IN_ERROR, ZONE_ENVIRONMENT, ended_regeneration_run


def run_list(url: str) -> list[dict]:
    response = requests.get(f"{url}/api/v1/runs", headers=api_headers(), timeout=10)
    response.raise_for_status()
    return response.json()["runs"]


def test_deploy_queues_a_run_and_runs_lists_it(web_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra_vars = tmp_path / "vars.yml"
    extra_vars.write_text("keep_releases: 2\nsampleapp_fail_health: true\n")
    monkeypatch.setenv("PLAYDECK_TOKEN", make_user("alice"))

    result = playdeck(
        "deploy", "sampleapp", "--env", "staging", "--version", "2.0.0",
        "--extra-vars", f"@{extra_vars}", "--limit", "web1", "--tags", "release, switch", "--check",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    [run] = run_list(web_api)
    assert result.stdout.strip() == f"Run {run['id']} queued: {web_api}/runs/{run['id']}"
    assert run["version"] == "2.0.0"
    assert run["extra_vars"] == {"keep_releases": 2, "sampleapp_fail_health": True}
    assert run["limit"] == "web1"
    assert run["tags"] == ["release", "switch"]
    assert run["check"] is True
    assert run["requested_by"] == "alice"  # the user of PLAYDECK_TOKEN

    listing = playdeck("runs", "--project", "sampleapp", "--env", "staging", "--state", "queued")
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.splitlines()
    assert header.split()[:4] == ["ID", "STATE", "PROJECT", "ENV"]
    assert row.split()[:5] == [str(run["id"]), "queued", "sampleapp", "staging", "2.0.0"]

    assert "No runs." in playdeck("runs", "--env", "production").stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nosuchproject", "--env", "staging"], "project 'nosuchproject' does not exist"),
        (["sampleapp", "--env", "qa"], "project 'sampleapp' has no environment 'qa'"),
        (["sampleapp", "--env", "staging", "--version", "../etc"], "version: must be"),
        (["sampleapp", "--env", "staging", "--extra-vars", '{"playdeck_apps_dir": "/"}'], "are reserved"),
        (["sampleapp", "--env", "staging", "--extra-vars", '{"dns_rndc": "/usr/bin/id"}'], "are set by Playdeck only"),
        (["sampleapp", "--env", "staging", "--limit", "web1; rm -rf /"], "limit: must be"),
        # The sample's launch form: a bound, and a name it does not declare.
        (["sampleapp", "--env", "staging", "--extra-vars", '{"keep_releases": 21}'], "must be between 1 and 20"),
        (
            ["sampleapp", "--env", "staging", "--extra-vars", '{"releases_dir": "/"}'],
            "'releases_dir' is not a variable",
        ),
        (["sampleapp", "--env", "staging", "--limit", "@deploy.yml"], "limit: must be"),
        (["sampleapp", "--env", "staging", "--version", "1.0\n"], "version: must be"),
    ],
)
def test_deploy_refused_by_the_api_exits_2_with_its_message(
    web_api: str,
    arguments: list[str],
    message: str,
) -> None:
    result = playdeck("deploy", *arguments)

    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert run_list(web_api) == []


@pytest.mark.parametrize(
    "extra_vars",
    ["{not json", "[1, 2]", '"just a string"', "@TMP/missing.json", "@TMP/broken.yml", "@TMP/list.yml"],
)
def test_malformed_extra_vars_exit_2_before_any_request(
    web_api: str,
    tmp_path: Path,
    extra_vars: str,
) -> None:
    (tmp_path / "broken.yml").write_text("a: [unclosed\n")
    (tmp_path / "list.yml").write_text("- a\n- b\n")

    result = playdeck(
        "deploy", "sampleapp", "--env", "staging", "--extra-vars", extra_vars.replace("TMP", str(tmp_path))
    )

    assert result.returncode == 2
    assert "--extra-vars" in result.stderr
    assert run_list(web_api) == []


def test_the_built_in_dns_project_is_neither_deployed_nor_relaunched(
    web_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = ended_regeneration_run()
    monkeypatch.setenv("PLAYDECK_TOKEN", make_user("boss", "release_manager"))

    deploy = playdeck("deploy", "dns", "--env", ZONE_ENVIRONMENT, "--extra-vars", '{"dns_rndc": "/usr/bin/id"}')
    relaunch = playdeck("relaunch", str(ended))

    for result in (deploy, relaunch):
        assert result.returncode == 2, result.stdout + result.stderr
        assert BUILT_IN_ERROR in result.stderr
    assert [run["id"] for run in run_list(web_api)] == [ended]


def test_runs_with_a_bad_filter_exits_2_with_the_api_message(web_api: str) -> None:
    result = playdeck("runs", "--state", "sleeping")

    assert result.returncode == 2
    assert "'sleeping' is not a run state" in result.stderr


@pytest.mark.parametrize("command", [["deploy", "sampleapp", "--env", "staging"], ["runs"]])
def test_unreachable_api_exits_3_with_a_message(monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("PLAYDECK_URL", nothing_listens)

    result = playdeck(*command)

    assert result.returncode == 3
    assert f"cannot reach the Playdeck API at {nothing_listens}" in result.stderr
    assert "Connection refused" in result.stderr


@pytest.mark.parametrize(
    ("command", "option"),
    [
        # Any queue name is fine (an environment may have its own); a space is not.
        (["worker", "--queues", "deploy,dc 2"], "--queues"),
        (["worker", "--concurrency", "0"], "--concurrency"),
        (["worker", "--name", "bad name"], "--name"),
        # "$" would let a trailing newline through.
        (["worker", "--name", "deploy\n"], "--name"),
        (["web", "--bind", "localhost"], "--bind"),
        (["runs", "--page", "0"], "--page"),
        (["deploy", "sampleapp"], "--env"),
        (["deploy", "sampleapp", "--env", "staging", "--user", "alice"], "--user is gone"),
    ],
)
def test_bad_options_exit_2_without_starting_anything(command: list[str], option: str) -> None:
    result = playdeck(*command, timeout=30)

    assert result.returncode == 2
    assert option in result.stderr
