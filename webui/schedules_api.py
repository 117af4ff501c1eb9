"""Schedules, ``/api/v1/schedules``: deploys of a project's environment (or runs of one of its pipelines) on a
cron expression in a time zone, or once at a time; the preview of an expression's next five times; each
schedule's recent fires."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from playdeck.auth.permissions import Action, Role
from playdeck.db import session_scope
from playdeck.errors import Forbidden
from playdeck.models import utcnow
from playdeck.pipelines import service as pipelines
from playdeck.schedules import service, timing
from webui import access, authorize
from webui.created import created
from webui.payloads import json_request_body

bp = Blueprint("schedules_api", __name__, url_prefix="/api/v1/schedules")

# Where a schedule deploys is fixed: another target is another schedule.
UPDATE_FIELDS = tuple(name for name in service.FIELDS if name not in ("project", "environment", "pipeline"))


def require_deploy_target(given: dict) -> None:
    """The caller may deploy where a new schedule deploys: its environment, or every environment its pipeline's
    steps reach (as for starting that pipeline now)."""
    if given.get("pipeline") is None:
        authorize.require_deploy(given.get("project"), given.get("environment"))
        return
    with session_scope() as session:
        steps = pipelines.by_name(session, given.get("project"), given["pipeline"]).steps
    for environment in pipelines.targets(steps):
        authorize.require_deploy(given.get("project"), environment)


def require_manager(schedule_id: int) -> None:
    """The caller may deploy where the schedule deploys, and is its owner or a release manager."""
    with session_scope() as session:
        project, environments, owner = service.target_names(session, schedule_id)
    for environment in environments:
        authorize.require_deploy(project, environment)
    caller = access.principal()
    if caller.name != owner and not caller.at_least(Role.RELEASE_MANAGER):
        raise Forbidden(f"schedule {schedule_id} is {owner}'s: a developer changes only their own schedules")


@bp.get("")
@access.rule(Action.READ)
def list_schedules() -> Response:
    """``?project=NAME``: only that project's."""
    with session_scope() as session:
        return jsonify(schedules=service.describe_list(session, request.args.get("project")))


@bp.post("")
@access.rule(Action.DEPLOY)
def create_schedule() -> tuple[Response, int]:
    body = json_request_body(service.FIELDS)
    require_deploy_target(body)
    with session_scope() as session:
        schedule = service.create(session, body, authorize.actor())
        data = service.describe(session, schedule)
    return created(data, "schedules_api.get_schedule", schedule_id=data["id"])


@bp.get("/preview")
@access.rule(Action.READ)
def preview() -> Response:
    """The next five fire times of ``cron`` in ``timezone`` (default UTC), each in that zone and in UTC."""
    return jsonify(times=timing.preview(request.args.get("cron"), request.args.get("timezone"), utcnow()))


@bp.get("/<int:schedule_id>")
@access.rule(Action.READ)
def get_schedule(schedule_id: int) -> Response:
    """With its last fires: the run each gave, or why none."""
    with session_scope() as session:
        return jsonify(service.describe(session, service.get(session, schedule_id), fires=True))


@bp.patch("/<int:schedule_id>")
@access.rule(Action.DEPLOY)
def update_schedule(schedule_id: int) -> Response:
    """Any of its fields but the project and environment; ``{"enabled": false}`` pauses it, ``true`` resumes it
    from now (409 if its owner may no longer deploy there)."""
    body = json_request_body(UPDATE_FIELDS)
    require_manager(schedule_id)
    with session_scope() as session:
        return jsonify(service.describe(session, service.update(session, schedule_id, body)))


@bp.delete("/<int:schedule_id>")
@access.rule(Action.DEPLOY)
def delete_schedule(schedule_id: int) -> tuple[str, int]:
    require_manager(schedule_id)
    with session_scope() as session:
        service.delete(session, schedule_id)
    return "", 204
