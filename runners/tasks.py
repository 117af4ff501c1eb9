"""Celery tasks. They take run IDs, never ORM objects, and the DB decides what may execute."""

from __future__ import annotations

from playdeck.runs.taskqueue import EXECUTE_RUN_TASK
from runners import execution
from runners.celery_app import app


@app.task(name=EXECUTE_RUN_TASK, acks_late=True, reject_on_worker_lost=True)
def execute_run(run_id: int) -> dict:
    outcome = execution.execute(int(run_id))
    return {"run_id": outcome.run_id, "executed": outcome.executed, "state": outcome.state}
