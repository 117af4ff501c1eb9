"""`playdeck cancel` through the real API: a queued run is canceled, an ended run exits 2 with why."""

from __future__ import annotations

import re

from tests.cli.cli_support import playdeck


def queue_a_run() -> int:
    queued = playdeck("deploy", "sampleapp", "--env", "staging", "--version", "4.0.0")
    assert queued.returncode == 0, queued.stderr
    return int(re.search(r"Run (\d+) queued", queued.stdout).group(1))


def test_cancel_a_queued_run_then_again(web_api: str) -> None:
    run_id = queue_a_run()  # no worker here: it stays queued

    first = playdeck("cancel", str(run_id), "--wait")
    assert first.returncode == 0, first.stderr
    assert "canceled" in first.stdout

    again = playdeck("cancel", str(run_id))
    assert again.returncode == 2
    assert f"run {run_id} already ended: it is canceled" in again.stderr


def test_cancel_an_unknown_run_exits_2(web_api: str) -> None:
    result = playdeck("cancel", "424242")
    assert result.returncode == 2 and "run 424242 does not exist" in result.stderr
