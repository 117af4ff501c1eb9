"""Pipelines of a project: created, changed, deleted, listed and described; and their runs described.

A pipeline is ``{"project", "name", "description", "steps"}`` (``playdeck.pipelines.definition``); its steps are
checked against the project when saved. Who may edit one (as for the project's own settings) and who may start
one (as for deploys to each environment it deploys to) is checked by the caller (``webui.pipelines_api``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck import audit, projects
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.models import Project, Run, utcnow
from playdeck.pipelines import definition
from playdeck.pipelines.models import Pipeline, PipelineRun, PipelineStepRun
from playdeck.serializers import iso

FIELDS = ("project", "name", "description", "steps")
MAX_DESCRIPTION_CHARS = 2000
MAX_LIST = 200
# Deploys, smoke tests and promotions: the steps a starter must be allowed to deploy for.
RUNNING_KINDS = ("deploy", "playbook", "promote")


def _description(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_CHARS:
        raise ValidationError("description", f"must be text of at most {MAX_DESCRIPTION_CHARS} characters")
    return value


def create(session: Session, given: Mapping[str, Any], by: str) -> Pipeline:
    project_name = given.get("project")
    if not isinstance(project_name, str) or not project_name:
        raise ValidationError("project", "is required")
    project = projects.get_project(session, project_name)
    name = definition.check_name(given.get("name"), "name")
    if session.scalar(select(Pipeline.id).where(Pipeline.project_id == project.id, Pipeline.name == name)):
        raise Conflict(f"project '{project.name}' already has a pipeline '{name}'")
    steps = definition.validate(given.get("steps"), project)
    now = utcnow()
    pipeline = Pipeline(project_id=project.id, name=name, description=_description(given.get("description", "")),
                        created_by=by, created_at=now, updated_at=now)  # fmt: skip
    pipeline.steps_json = _steps_json(steps)
    session.add(pipeline)
    session.flush()
    audit.record(session, "pipeline.create", "pipeline", pipeline.id, {"project": project.name, "name": name})
    return pipeline


def _steps_json(steps: list[dict[str, Any]]) -> str:
    return json.dumps(steps)


def update(session: Session, pipeline_id: int, given: Mapping[str, Any]) -> Pipeline:
    """Its description and steps (a pipeline keeps its project and name). Runs already started keep the steps
    they started with."""
    pipeline = get(session, pipeline_id)
    for fixed in ("project", "name"):
        if fixed in given:
            raise ValidationError(fixed, "cannot be changed: create another pipeline")
    if "description" in given:
        pipeline.description = _description(given["description"])
    if "steps" in given:
        pipeline.steps_json = _steps_json(definition.validate(given["steps"], _project(session, pipeline)))
    pipeline.updated_at = utcnow()
    audit.record(session, "pipeline.update", "pipeline", pipeline.id, {"fields": sorted(given)})
    return pipeline


def delete(session: Session, pipeline_id: int) -> None:
    pipeline = get(session, pipeline_id)
    going = select(PipelineRun.id).where(PipelineRun.pipeline_id == pipeline.id, PipelineRun.state == "running")
    if session.scalar(going.limit(1)):
        raise Conflict(f"pipeline {pipeline_id} has a run going on: cancel it first")
    audit.record(session, "pipeline.delete", "pipeline", pipeline.id, {"name": pipeline.name})
    session.delete(pipeline)


def get(session: Session, pipeline_id: int) -> Pipeline:
    found = session.get(Pipeline, pipeline_id)
    if found is None:
        raise NotFound(f"pipeline {pipeline_id} not found")
    return found


def by_name(session: Session, project: object, name: object) -> Pipeline:
    if not isinstance(project, str) or not project:
        raise ValidationError("project", "is required")
    if not isinstance(name, str) or not name:
        raise ValidationError("pipeline", "is required")
    found_project = projects.get_project(session, project)
    found = session.scalar(select(Pipeline).where(Pipeline.project_id == found_project.id, Pipeline.name == name))
    if found is None:
        raise NotFound(f"project '{project}' has no pipeline '{name}'")
    return found


def _project(session: Session, pipeline: Pipeline) -> Project:
    return session.get_one(Project, pipeline.project_id)


def targets(pipeline_steps: list[dict[str, Any]]) -> list[str]:
    """The environments a pipeline's runs deploy to or run playbooks against, in order, each once."""
    found = [step["environment"] for step in pipeline_steps if step["kind"] in RUNNING_KINDS]
    return list(dict.fromkeys(found))


def describe(session: Session, pipeline: Pipeline) -> dict[str, Any]:
    return {
        "id": pipeline.id,
        "project": _project(session, pipeline).name,
        "name": pipeline.name,
        "description": pipeline.description,
        "steps": pipeline.steps,
        "created_by": pipeline.created_by,
        "created_at": iso(pipeline.created_at),
        "updated_at": iso(pipeline.updated_at),
    }


def describe_list(session: Session, project: str | None = None) -> list[dict[str, Any]]:
    statement = select(Pipeline, Project.name).join(Project, Project.id == Pipeline.project_id)
    if project:
        statement = statement.where(Project.name == project)
    rows = session.execute(statement.order_by(Project.name, Pipeline.name).limit(MAX_LIST)).all()
    return [{**describe_fields(pipeline), "project": name} for pipeline, name in rows]


def describe_fields(pipeline: Pipeline) -> dict[str, Any]:
    return {"id": pipeline.id, "name": pipeline.name, "description": pipeline.description, "steps": pipeline.steps}


# --- pipeline runs ------------------------------------------------------------------------------------------


def _step_dict(step: PipelineStepRun, run: Run | None) -> dict[str, Any]:
    started = run.started_at if run is not None and run.started_at else step.started_at
    finished = run.finished_at if run is not None and run.finished_at else step.finished_at
    duration = (finished or utcnow()) - started if started else None
    return {
        "name": step.step,
        "kind": step.kind,
        "state": step.state,
        "run_id": step.run_id,
        "run_state": run.state if run is not None else None,
        "attempts": step.attempts,
        "reason": step.reason,
        "decided_by": step.decided_by,
        "started_at": iso(started),
        "finished_at": iso(finished),
        "duration_seconds": round(duration.total_seconds(), 1) if duration is not None else None,
    }


def run_dict(session: Session, pipeline_run: PipelineRun, steps: bool = True) -> dict[str, Any]:
    pipeline = get(session, pipeline_run.pipeline_id)
    data: dict[str, Any] = {
        "id": pipeline_run.id,
        "pipeline": pipeline.name,
        "pipeline_id": pipeline.id,
        "project": _project(session, pipeline).name,
        "state": pipeline_run.state,
        "ref": pipeline_run.ref,
        "commit": pipeline_run.commit_sha,
        "commit_subject": pipeline_run.commit_subject,
        "version": pipeline_run.version,
        "requested_by": pipeline_run.requested_by,
        "failed_step": pipeline_run.failed_step,
        "reason": pipeline_run.reason,
        "resumes": pipeline_run.resumes,
        "created_at": iso(pipeline_run.created_at),
        "finished_at": iso(pipeline_run.finished_at),
    }
    if steps:
        data["steps"] = _steps(session, pipeline_run.id)
    return data


def _steps(session: Session, pipeline_run_id: int) -> list[dict[str, Any]]:
    """The steps with their current run, in one statement."""
    rows = session.execute(
        select(PipelineStepRun, Run)
        .outerjoin(Run, Run.id == PipelineStepRun.run_id)
        .where(PipelineStepRun.pipeline_run_id == pipeline_run_id)
        .order_by(PipelineStepRun.position)
    ).all()
    return [_step_dict(step, run) for step, run in rows]


def list_runs(session: Session, project: str | None, pipeline: str | None, limit: int = 50) -> list[dict[str, Any]]:
    statement = (
        select(PipelineRun, Pipeline.name, Project.name)
        .join(Pipeline, Pipeline.id == PipelineRun.pipeline_id)
        .join(Project, Project.id == PipelineRun.project_id)
    )
    if project:
        statement = statement.where(Project.name == project)
    if pipeline:
        statement = statement.where(Pipeline.name == pipeline)
    rows = session.execute(statement.order_by(PipelineRun.id.desc()).limit(min(limit, MAX_LIST))).all()
    return [
        {"id": run.id, "pipeline": name, "project": project_name, "state": run.state, "ref": run.ref,
         "commit": run.commit_sha, "version": run.version, "requested_by": run.requested_by,
         "failed_step": run.failed_step, "created_at": iso(run.created_at), "finished_at": iso(run.finished_at)}
        for run, name, project_name in rows
    ]  # fmt: skip
