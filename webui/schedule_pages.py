"""A project's schedules as a page: the list (pause, resume, delete) and a form to add one, with a live preview
of the next five times (``static/schedules.js`` asks ``GET /api/v1/schedules/preview``). The work is done by
``playdeck.schedules.service``; who may do what is checked as in the API (``webui.schedules_api``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from playdeck import projects
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import PlaydeckError, ValidationError
from playdeck.pipelines import service as pipelines
from playdeck.schedules import service
from webui import access, authorize
from webui.schedules_api import require_deploy_target, require_manager

bp = Blueprint("schedule_pages", __name__, url_prefix="/projects/<project>/schedules")


def _list_page(project: str, error: PlaydeckError | None = None) -> tuple[str, int]:
    with session_scope() as session:
        environments = [env.name for env in projects.get_project(session, project).environments]
        pipeline_names = [pipeline["name"] for pipeline in pipelines.describe_list(session, project)]
        schedules = service.describe_list(session, project)
    return render_template(
        "schedules.html",
        project=project,
        environments=environments,
        pipelines=pipeline_names,
        schedules=schedules,
        policies=service.MISSED_POLICIES,
        form=request.form if error is not None else {},
        error=error.message if error else None,
    ), (error.status_code if error else 200)


def _from_form(project: str) -> dict[str, Any]:
    """The API's fields from the form: what was left empty is left out."""
    form = request.form
    # The target select names an environment, or "pipeline:NAME".
    target = form.get("environment", "")
    given: dict[str, Any] = {"project": project}
    given["pipeline" if target.startswith("pipeline:") else "environment"] = target.removeprefix("pipeline:")
    when = "cron" if form.get("kind", "cron") == "cron" else "at"
    given[when] = form.get(when, "").strip()
    for name in ("timezone", "version", "ref", "limit", "missed_policy"):
        if form.get(name, "").strip():
            given[name] = form[name].strip()
    given["tags"] = [tag.strip() for tag in form.get("tags", "").split(",") if tag.strip()]
    given["check"] = form.get("check") == "1"
    given["only_new_commits"] = form.get("only_new_commits") == "1"
    if form.get("extra_vars", "").strip():
        try:
            given["extra_vars"] = json.loads(form["extra_vars"])
        except ValueError:
            raise ValidationError("extra_vars", "is not valid JSON (a JSON object of names to values)") from None
    return given


@bp.get("")
@access.rule(Action.READ)
def index(project: str) -> tuple[str, int]:
    return _list_page(project)


@bp.post("")
@access.rule(Action.DEPLOY)
def create(project: str) -> Response | tuple[str, int]:
    try:
        given = _from_form(project)
        require_deploy_target(given)
        with session_scope() as session:
            service.create(session, given, authorize.actor())
    except PlaydeckError as exc:
        return _list_page(project, exc)
    return redirect(url_for("schedule_pages.index", project=project), 303)


@bp.post("/<int:schedule_id>/enabled")
@access.rule(Action.DEPLOY)
def set_enabled(project: str, schedule_id: int) -> Response | tuple[str, int]:
    require_manager(schedule_id)
    try:
        with session_scope() as session:
            service.update(session, schedule_id, {"enabled": request.form.get("enabled") == "1"})
    except PlaydeckError as exc:
        return _list_page(project, exc)
    return redirect(url_for("schedule_pages.index", project=project), 303)


@bp.post("/<int:schedule_id>/delete")
@access.rule(Action.DEPLOY)
def delete(project: str, schedule_id: int) -> Response:
    require_manager(schedule_id)
    with session_scope() as session:
        service.delete(session, schedule_id)
    return redirect(url_for("schedule_pages.index", project=project), 303)
