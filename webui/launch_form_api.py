"""A project's launch form: ``/api/v1/projects/<project>/launch-form``. Anyone who may read projects reads
it (a launcher needs to know what a deploy may set); admins declare it with PUT. The same service as the
admin project page (``playdeck.launch_inputs``)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from playdeck import launch_inputs
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from webui import access, authorize
from webui.payloads import json_request_body

bp = Blueprint("launch_form_api", __name__, url_prefix="/api/v1/projects/<project>/launch-form")

FIELDS = ("fields", "allow_free_extra_vars")


@bp.get("")
@access.rule(Action.READ)
def get_launch_form(project: str) -> Response:
    with session_scope() as session:
        return jsonify(launch_inputs.project_form(session, project).to_dict())


@bp.put("")
@access.rule(Action.ADMIN)
def put_launch_form(project: str) -> Response:
    """The whole declaration: ``fields`` (null: the file beside the playbook applies) and, optionally,
    ``allow_free_extra_vars`` (default false)."""
    body = json_request_body(allowed=FIELDS)
    if "fields" not in body:
        raise ValidationError("fields", "is required: a list of fields, or null to use the file beside the playbook")
    with session_scope() as session:
        form = launch_inputs.set_launch_form(
            session, project, body["fields"], body.get("allow_free_extra_vars", False), who=authorize.actor()
        )
        return jsonify(form.to_dict())
