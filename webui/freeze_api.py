"""Freeze windows: ``/api/v1/freeze-windows`` — list (everyone; ``?project=&environment=`` for the windows
that apply to one environment, with where it stands now), add, and ``/<id>`` read, change, delete (release
managers and admins). Thin views over ``playdeck.release_control.freeze_windows``, which checks and audits."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from playdeck import projects
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.release_control import freeze_windows
from webui import access, authorize
from webui.created import created
from webui.payloads import json_request_body

bp = Blueprint("freeze_api", __name__, url_prefix="/api/v1/freeze-windows")


@bp.get("")
@access.rule(Action.READ)
def list_windows() -> Response:
    project, environment = request.args.get("project"), request.args.get("environment")
    with session_scope() as session:
        found = freeze_windows.list_windows(session, project, environment)
        answer: dict[str, Any] = {"windows": [freeze_windows.window_json(window) for window in found]}
        if project is not None and environment is not None:
            target = projects.get_environment(projects.get_project(session, project), environment)
            answer["status"] = freeze_windows.statuses_json(session, [target.id])[target.id]
    return jsonify(answer)


@bp.post("")
@access.rule(Action.MANAGE_FREEZES)
def create_window() -> tuple[Response, int]:
    body = json_request_body(freeze_windows.FIELDS)
    with session_scope() as session:
        window = freeze_windows.create_window(session, body, who=authorize.actor())
        shown = freeze_windows.window_json(window)
    return created(shown, "freeze_api.get_window", window_id=shown["id"])


@bp.get("/<int:window_id>")
@access.rule(Action.READ)
def get_window(window_id: int) -> Response:
    with session_scope() as session:
        return jsonify(freeze_windows.window_json(freeze_windows.get_window(session, window_id)))


@bp.patch("/<int:window_id>")
@access.rule(Action.MANAGE_FREEZES)
def update_window(window_id: int) -> Response:
    body = json_request_body(freeze_windows.CHANGEABLE)
    with session_scope() as session:
        window = freeze_windows.update_window(session, window_id, body, who=authorize.actor())
        return jsonify(freeze_windows.window_json(window))


@bp.delete("/<int:window_id>")
@access.rule(Action.MANAGE_FREEZES)
def delete_window(window_id: int) -> tuple[str, int]:
    with session_scope() as session:
        freeze_windows.delete_window(session, window_id, who=authorize.actor())
    return "", 204
