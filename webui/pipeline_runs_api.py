"""Pipeline runs, ``/api/v1/pipeline-runs``: started at a ref or version, read, canceled, resumed, and their
approval steps decided.

Starting or resuming one needs the right to deploy to every environment its steps deploy to or run a playbook
against (a developer may not start a pipeline that reaches a protected environment: 403): the steps then run as
the starter, later, without a person at hand. A developer cancels their own pipeline runs, a release manager
anyone's, as for runs; a release manager decides approval steps.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from playdeck.auth import permissions
from playdeck.auth.permissions import Action, Role
from playdeck.db import session_scope
from playdeck.errors import Forbidden, ValidationError
from playdeck.pipelines import engine, service
from webui import access, authorize
from webui.created import created
from webui.params import int_param
from webui.payloads import json_request_body, optional_json_body

bp = Blueprint("pipeline_runs_api", __name__, url_prefix="/api/v1/pipeline-runs")

START_FIELDS = ("project", "pipeline", "ref", "version")


def _require_deploy_all(project: str, steps: list[dict]) -> None:
    for environment in service.targets(steps):
        authorize.require_deploy(project, environment)


def _shown(pipeline_run_id: int) -> dict:
    with session_scope() as session:
        return service.run_dict(session, engine.get_pipeline_run(session, pipeline_run_id))


@bp.get("")
@access.rule(Action.READ)
def list_pipeline_runs() -> Response:
    """Newest first; ``?project=NAME``, ``?pipeline=NAME``, ``?limit=N`` (at most 200)."""
    limit = int_param("limit", request.args.get("limit"), 50, 1, service.MAX_LIST)
    with session_scope() as session:
        found = service.list_runs(session, request.args.get("project"), request.args.get("pipeline"), limit)
    return jsonify(pipeline_runs=found)


@bp.post("")
@access.rule(Action.DEPLOY)
def start_pipeline_run() -> tuple[Response, int]:
    body = json_request_body(START_FIELDS)
    project, name = body.get("project"), body.get("pipeline")
    with session_scope() as session:
        steps = service.by_name(session, project, name).steps
    _require_deploy_all(str(project), steps)
    # Before the transaction: resolving a git ref may fetch the project's mirror.
    source = engine.resolve_source(str(project), body.get("ref", ""), body.get("version", ""))
    with session_scope() as session:
        pipeline = service.by_name(session, project, name)
        started = engine.start(session, pipeline, source, authorize.actor()).id
    return created(_shown(started), "pipeline_runs_api.get_pipeline_run", pipeline_run_id=started)


@bp.get("/<int:pipeline_run_id>")
@access.rule(Action.READ)
def get_pipeline_run(pipeline_run_id: int) -> Response:
    """With its steps: state, duration, run."""
    return jsonify(_shown(pipeline_run_id))


@bp.post("/<int:pipeline_run_id>/cancel")
@access.rule(Action.CANCEL)
def cancel_pipeline_run(pipeline_run_id: int) -> Response:
    optional_json_body((), "{}")
    with session_scope() as session:
        requested_by = engine.get_pipeline_run(session, pipeline_run_id).requested_by
    permissions.require_cancel(access.principal(), requested_by)
    with session_scope() as session:
        engine.cancel(session, pipeline_run_id, authorize.actor())
    return jsonify(_shown(pipeline_run_id))


@bp.post("/<int:pipeline_run_id>/resume")
@access.rule(Action.DEPLOY)
def resume_pipeline_run(pipeline_run_id: int) -> Response:
    """``{"from": STEP}``: the failed step (the default) or a later one; 409 unless the pipeline run failed."""
    body = optional_json_body(("from",), '{"from": "smoke"}')
    from_step = body.get("from")
    if from_step is not None and not isinstance(from_step, str):
        raise ValidationError("from", "must be the name of a step")
    with session_scope() as session:
        pipeline_run = engine.get_pipeline_run(session, pipeline_run_id)
        project, steps = service.run_dict(session, pipeline_run, steps=False)["project"], pipeline_run.steps
    _require_deploy_all(project, steps)
    with session_scope() as session:
        engine.resume(session, pipeline_run_id, from_step, authorize.actor())
    return jsonify(_shown(pipeline_run_id))


@bp.post("/<int:pipeline_run_id>/decide")
@access.rule(Action.DEPLOY)
def decide_step(pipeline_run_id: int) -> Response:
    """``{"step": NAME, "approve": true|false}``: a release manager's decision on an approval step."""
    body = json_request_body(("step", "approve"))
    if not access.principal().at_least(Role.RELEASE_MANAGER):
        raise Forbidden("approval steps of pipelines are decided by release managers")
    step, approve = body.get("step"), body.get("approve")
    if not isinstance(step, str) or not step:
        raise ValidationError("step", "is required: the name of the approval step")
    if not isinstance(approve, bool):
        raise ValidationError("approve", "must be true or false")
    with session_scope() as session:
        engine.decide(session, pipeline_run_id, step, authorize.actor(), approve)
    return jsonify(_shown(pipeline_run_id))
