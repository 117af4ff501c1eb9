"""`playdeck relaunch` through the real API: refused with the API's reason while a run is active,
a linked new run once it has ended."""

from __future__ import annotations

import re

import pytest
import requests

from tests.cli.cli_support import playdeck
from tests.cli.test_cli_cancel import queue_a_run
from tests.conftest import api_headers, make_user
from tests.webui.webui_testing import RunDriver


def test_relaunch_of_a_queued_run_exits_2_with_why(web_api: str) -> None:
    run_id = queue_a_run()  # no worker here: it stays queued

    result = playdeck("relaunch", str(run_id))

    assert result.returncode == 2, result.stderr
    assert f"the API answered 409: run {run_id} is still queued" in result.stderr


def test_relaunch_of_an_unknown_run_exits_2(web_api: str) -> None:
    result = playdeck("relaunch", "424242", "--failed")
    assert result.returncode == 2 and "run 424242 does not exist" in result.stderr


def test_relaunch_of_a_finished_run_on_its_failed_hosts(web_api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = queue_a_run()
    # Ended as a worker ends it (web2 failed), through the same services, in this test's database.
    driver = RunDriver()
    driver.start(run_id)
    driver.finish(run_id)

    monkeypatch.setenv("PLAYDECK_TOKEN", make_user("erin", "release_manager"))  # the relauncher is the token's user
    result = playdeck("relaunch", str(run_id), "--failed")

    assert result.returncode == 0, result.stderr
    assert f"Relaunch of run {run_id} on web2" in result.stdout
    new_id = int(re.search(r"Run (\d+) queued: http://\S+/runs/(\d+)", result.stdout).group(1))
    new = requests.get(f"{web_api}/api/v1/runs/{new_id}", headers=api_headers(), timeout=10).json()
    assert (new["relaunch_of"], new["limit"], new["requested_by"]) == (run_id, "web2", "erin")
    listed = playdeck("runs", "--state", "queued")
    assert listed.returncode == 0, listed.stderr
    row = next(line.split() for line in listed.stdout.splitlines() if line.startswith(f"{new_id} "))
    assert row[1:6] == ["queued", "sampleapp", "staging", "4.0.0", "erin"]
