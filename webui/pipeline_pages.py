"""A pipeline run as a page: its steps as a strip (state, duration, a link to each step's run), kept current by
``static/pipeline_run.js`` polling ``GET /api/v1/pipeline-runs/<id>`` while it runs; and a project's pipelines
with their last runs. Starting, canceling and resuming go through the API (``webui.pipeline_runs_api``)."""

from __future__ import annotations

from flask import Blueprint, render_template

from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.pipelines import engine, service
from webui import access

bp = Blueprint("pipeline_pages", __name__)


@bp.get("/pipeline-runs/<int:pipeline_run_id>")
@access.rule(Action.READ)
def pipeline_run(pipeline_run_id: int) -> str:
    with session_scope() as session:
        shown = service.run_dict(session, engine.get_pipeline_run(session, pipeline_run_id))
    return render_template("pipeline_run.html", pipeline_run=shown)


@bp.get("/projects/<project>/pipelines")
@access.rule(Action.READ)
def pipelines(project: str) -> str:
    with session_scope() as session:
        found = service.describe_list(session, project)
        runs = service.list_runs(session, project, None, limit=20)
    return render_template("pipelines.html", project=project, pipelines=found, pipeline_runs=runs)
