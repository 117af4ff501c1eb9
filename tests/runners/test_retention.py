"""Artifact dirs are pruned by age, except those of runs still queued or running."""

from __future__ import annotations

import os
import time

from playdeck import db
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from runners.retention import prune_artifacts


def _run_with_artifacts(settings, age_days: float, still_running: bool = False) -> int:
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest(project="sampleapp", environment="staging")).id
        claim_run(session, run_id, "host", 1)
        if not still_running:
            finish_run(session, run_id, RunState.SUCCESSFUL, rc=0)
    path = settings.runs_dir / str(run_id)
    (path / "attempt-1").mkdir(parents=True)
    (path / "attempt-1" / "stdout").write_text("log")
    stamp = time.time() - age_days * 86400
    os.utime(path, (stamp, stamp))
    return run_id


def test_old_finished_runs_are_pruned_recent_and_active_ones_kept(embedded):
    old = _run_with_artifacts(embedded, age_days=embedded.artifact_retention_days + 1)
    recent = _run_with_artifacts(embedded, age_days=1)
    old_but_running = _run_with_artifacts(embedded, age_days=embedded.artifact_retention_days + 5, still_running=True)

    assert prune_artifacts(embedded) == [old]
    assert not (embedded.runs_dir / str(old)).exists()
    assert (embedded.runs_dir / str(recent) / "attempt-1" / "stdout").exists()
    assert (embedded.runs_dir / str(old_but_running)).exists()
