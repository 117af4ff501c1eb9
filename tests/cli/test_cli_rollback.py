"""`playdeck rollback` through the real API: nothing to roll back to exits 2 with the reason; otherwise a deploy
of the version before the current one (or of a chosen run's), linked to the run it replaces."""

from __future__ import annotations

import re

import requests

from tests.cli.cli_support import playdeck
from tests.cli.test_cli_cancel import queue_a_run
from tests.conftest import api_headers
from tests.webui.webui_testing import RunDriver


def deployed(version: str) -> int:
    """A successful deploy of ``version`` to sampleapp staging, ended as a worker ends it."""
    queued = playdeck("deploy", "sampleapp", "--env", "staging", "--version", version)
    assert queued.returncode == 0, queued.stderr
    run_id = int(re.search(r"Run (\d+) queued", queued.stdout).group(1))
    driver = RunDriver()
    driver.start(run_id)
    driver.finish(run_id)
    return run_id


def test_nothing_to_roll_back_exits_2_with_why(web_api: str) -> None:
    queue_a_run()  # queued, never deployed
    result = playdeck("rollback", "sampleapp", "--env", "staging")
    assert result.returncode == 2
    assert "the API answered 409: nothing has been deployed to sampleapp staging yet" in result.stderr


def test_rollback_to_the_previous_version_and_to_a_chosen_run(web_api: str) -> None:
    first = deployed("1.0.0")
    deployed("2.0.0")
    current = deployed("3.0.0")

    result = playdeck("rollback", "sampleapp", "--env", "staging")

    assert result.returncode == 0, result.stderr
    assert f"Rollback of run {current} in staging" in result.stdout
    new_id = int(re.search(r"Run (\d+) queued", result.stdout).group(1))
    new = requests.get(f"{web_api}/api/v1/runs/{new_id}", headers=api_headers(), timeout=10).json()
    assert (new["version"], new["rollback_of"]) == ("2.0.0", current)

    chosen = playdeck("rollback", "sampleapp", "--env", "staging", "--to", str(first))
    assert chosen.returncode == 0, chosen.stderr
    chosen_id = int(re.search(r"Run (\d+) queued", chosen.stdout).group(1))
    run = requests.get(f"{web_api}/api/v1/runs/{chosen_id}", headers=api_headers(), timeout=10).json()
    assert run["version"] == "1.0.0"
    refused = playdeck("rollback", "sampleapp", "--env", "staging", "--to", str(current))
    assert refused.returncode == 2 and "which is what staging runs now" in refused.stderr
