"""Pipelines, ``/api/v1/pipelines``: a project's chains of steps. Everybody reads them; the project's editors (an
admin, or a release manager granted the project, as for its settings) create, change and delete them."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from playdeck.auth import permissions
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.pipelines import service
from playdeck.projects import get_project
from webui import access, authorize
from webui.created import created
from webui.payloads import json_request_body

bp = Blueprint("pipelines_api", __name__, url_prefix="/api/v1/pipelines")


def require_editor(project: object) -> None:
    """The caller may edit ``project`` (malformed or blank: the service says so with its own 400)."""
    if not isinstance(project, str) or not project:
        return
    with session_scope() as session:
        found = get_project(session, project)
        project_id, name = found.id, found.name
    permissions.require_project_editor(access.principal(), project_id, name)


def _project_of(pipeline_id: int) -> str:
    with session_scope() as session:
        return service.describe(session, service.get(session, pipeline_id))["project"]


@bp.get("")
@access.rule(Action.READ)
def list_pipelines() -> Response:
    """``?project=NAME``: only that project's."""
    with session_scope() as session:
        return jsonify(pipelines=service.describe_list(session, request.args.get("project")))


@bp.post("")
@access.rule(Action.EDIT_PROJECTS)
def create_pipeline() -> tuple[Response, int]:
    body = json_request_body(service.FIELDS)
    require_editor(body.get("project"))
    with session_scope() as session:
        data = service.describe(session, service.create(session, body, authorize.actor()))
    return created(data, "pipelines_api.get_pipeline", pipeline_id=data["id"])


@bp.get("/<int:pipeline_id>")
@access.rule(Action.READ)
def get_pipeline(pipeline_id: int) -> Response:
    with session_scope() as session:
        return jsonify(service.describe(session, service.get(session, pipeline_id)))


@bp.patch("/<int:pipeline_id>")
@access.rule(Action.EDIT_PROJECTS)
def update_pipeline(pipeline_id: int) -> Response:
    """Its description and steps; the runs already started keep the steps they started with."""
    body = json_request_body(service.FIELDS)
    require_editor(_project_of(pipeline_id))
    with session_scope() as session:
        return jsonify(service.describe(session, service.update(session, pipeline_id, body)))


@bp.delete("/<int:pipeline_id>")
@access.rule(Action.EDIT_PROJECTS)
def delete_pipeline(pipeline_id: int) -> tuple[str, int]:
    require_editor(_project_of(pipeline_id))
    with session_scope() as session:
        service.delete(session, pipeline_id)
    return "", 204
