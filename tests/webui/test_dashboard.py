"""The dashboard's live part: runs in progress with their progress, refreshed from a partial."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import update

from playdeck import db
from playdeck.models import Run
from playdeck.runs.states import RunState
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


def test_a_git_deploy_shows_its_ref_commit_and_subject(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client, environment="staging", version="1.1")
    runs.start(run_id)
    runs.finish(run_id, RunState.SUCCESSFUL, rc=0)
    # As a git project's deploy records them when queued (tests/git cover the resolving itself).
    with db.session_scope() as session:
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(ref="v1.1", commit_sha="3f2a9c1d0e4b" + "0" * 28, commit_subject="Fix the checkout page")
        )

    page = _text(client.get("/"))

    assert "v1.1 @ <code>3f2a9c1d0e4b</code> · 1.1" in page
    assert "Fix the checkout page" in page
