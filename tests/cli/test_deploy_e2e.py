"""The whole path a newcomer takes: `playdeck up` (supervisord, web, workers on the embedded default),
then `playdeck deploy --wait` of the sample project, through the API, a worker and ansible-runner."""

from __future__ import annotations

import os

import requests

from playdeck.settings import get_settings
from tests.cli.cli_support import SupervisedPlaydeck, playdeck
from tests.conftest import api_headers


def current_release(host: str) -> str:
    return os.readlink(get_settings().apps_dir / "sampleapp" / "staging" / host / "current")


def test_deploy_wait_follows_real_deploys_to_their_end(playdeck_up: SupervisedPlaydeck) -> None:
    good = playdeck("deploy", "sampleapp", "--env", "staging", "--version", "2.0.0", "--wait", timeout=180)

    assert good.returncode == 0, good.stdout + good.stderr
    assert "TASK [Point current at the new release]" in good.stdout
    assert "PLAY RECAP" in good.stdout
    assert "successful" in good.stdout
    assert {line.split()[0] for line in good.stdout.splitlines()[-2:]} == {"web1", "web2"}
    assert current_release("web1") == current_release("web2") == "releases/2.0.0"

    unhealthy = playdeck(
        "deploy", "sampleapp", "--env", "staging", "--version", "3.0.0",
        "--extra-vars", '{"sampleapp_fail_health": true}', "--wait",
        timeout=180,
    )  # fmt: skip

    assert unhealthy.returncode == 1, unhealthy.stdout + unhealthy.stderr
    assert "3.0.0 failed on web1" in unhealthy.stdout
    assert "current is back on 2.0.0" in unhealthy.stdout
    assert current_release("web1") == "releases/2.0.0"
    # Its end says why, per host: the health check, then the rollback's message.
    why = unhealthy.stdout[unhealthy.stdout.index("Why it ended badly:") :]
    assert "web1 failed in 'Run the health script of the current release'" in why
    assert "finally 'Fail the deploy of this host': 3.0.0 failed on web1:" in why and "back on 2.0.0" in why
    # The sample reports its switches: both hosts were switched to 3.0.0 and back, and run 2.0.0.
    url = f"{playdeck_up.url}/api/v1/projects/sampleapp/environments/staging/deployments"
    hosts = requests.get(url, headers=api_headers(), timeout=10).json()["hosts"]
    assert hosts["summary"] == "2.0.0 on 2 hosts"


def test_deploy_wait_exits_1_when_no_host_matches(playdeck_up: SupervisedPlaydeck) -> None:
    result = playdeck("deploy", "sampleapp", "--env", "staging", "--limit", "nosuchhost", "--wait", timeout=180)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Could not match supplied host pattern" in result.stdout
    assert " failed" in result.stdout
