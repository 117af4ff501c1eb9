"""Pipelines for the tests: the sample project's (staging → smoke playbook → production), and a step's run
ended as a worker would end it."""

from __future__ import annotations

from sqlalchemy import select

from playdeck import db
from playdeck.pipelines import engine, service
from playdeck.pipelines.models import PipelineRun, PipelineStepRun
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run

RELEASE_STEPS = [
    {"name": "staging", "kind": "deploy", "environment": "staging"},
    {"name": "smoke", "kind": "playbook", "environment": "staging", "playbook": "sampleapp/smoke.yml"},
    {"name": "production", "kind": "deploy", "environment": "production"},
]


def add_pipeline(project: str = "sampleapp", name: str = "release", steps: list | None = None) -> int:
    with db.session_scope() as session:
        given = {"project": project, "name": name, "steps": steps or RELEASE_STEPS}
        return service.create(session, given, "admin").id


def start(pipeline_id: int, by: str = "admin", **source: str) -> int:
    with db.session_scope() as session:
        pipeline = service.get(session, pipeline_id)
        return engine.start(session, pipeline, engine.Source(**source), by).id


def steps(pipeline_run_id: int) -> dict[str, tuple[str, int | None]]:
    """step → (state, run id)."""
    with db.session_scope() as session:
        rows = session.execute(
            select(PipelineStepRun.step, PipelineStepRun.state, PipelineStepRun.run_id)
            .where(PipelineStepRun.pipeline_run_id == pipeline_run_id)
            .order_by(PipelineStepRun.position)
        ).all()
    return {step: (state, run_id) for step, state, run_id in rows}


def state(pipeline_run_id: int) -> str:
    with db.session_scope() as session:
        return session.get(PipelineRun, pipeline_run_id).state


def end_run(run_id: int, outcome: RunState) -> None:
    """What a worker does: claim the run, then record its end."""
    with db.session_scope() as session:
        assert claim_run(session, run_id, "test-host", 1)
    with db.session_scope() as session:
        assert finish_run(session, run_id, outcome, rc=0 if outcome == RunState.SUCCESSFUL else 2)
