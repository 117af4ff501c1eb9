"""The dashboard's live part: runs in progress with their progress, refreshed from a partial."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.webui.webui_testing import RunDriver


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_runs_in_progress_show_their_progress(client: FlaskClient, runs: RunDriver) -> None:
    assert 'id="nothing-running"' in _text(client.get("/"))
    runs.complete(client, events=4)  # the baseline: 4 task results
    running = runs.create(client, environment="staging")
    runs.start(running)
    runs.emit(running, [1, 2])
    queued = runs.create(client, environment="production")

    for page in (_text(client.get("/")), _text(client.get("/dashboard/active"))):
        row = re.search(rf'data-run-id="{running}">(.*?)</tr>', page, re.S).group(1)
        assert "state-running" in row and "50 % · 2 of ~4 steps" in row
        assert f'data-run-id="{queued}"' in page and 'id="nothing-running"' not in page

    partial = _text(client.get("/dashboard/active"))
    assert "<html" not in partial and 'id="active-runs-title"' in partial
