"""Read models shared by the API and the pages.

Each opens one short session and returns the plain JSON shapes of ``playdeck.serializers``, so a
template never touches an ORM object whose session has closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from playdeck import runs
from playdeck.db import session_scope
from playdeck.models import Project
from playdeck.projects import get_project, list_projects
from playdeck.relaunch import relaunch_request
from playdeck.runs import RunFilters, get_run, list_runs, parse_filters, parse_page
from playdeck.serializers import project_json, run_json

JsonDict = dict[str, Any]


def projects_json() -> list[JsonDict]:
    with session_scope() as session:
        return [project_json(project) for project in list_projects(session)]


def _with_id(project: Project) -> JsonDict:
    """The project's JSON and its id, which membership (``Principal.project_ids``) is checked by."""
    return {**project_json(project), "id": project.id}


def project_detail(name: str) -> JsonDict:
    with session_scope() as session:
        return _with_id(get_project(session, name))


def run_detail(run_id: int) -> JsonDict:
    with session_scope() as session:
        return run_json(get_run(session, run_id))


def cancel_run(run_id: int, by: str, force: bool = False) -> JsonDict:
    """Cancel (queued: at once; running: the worker stops it; force: at once); 409 once ended."""
    return run_json(runs.cancel_run(run_id, by, force))


def relaunch_run(run_id: int, hosts: str, by: str) -> JsonDict:
    """Queue a new run with a finished run's parameters (``hosts="failed"``: only where it failed)."""
    with session_scope() as session:
        request = relaunch_request(session, run_id, hosts, requested_by=by)
    # Its own transaction, committed before the run is dispatched.
    return run_json(runs.submit_run(request))


def run_page(args: Mapping[str, str], per_page: int) -> JsonDict:
    """One page of runs for query-string filters: ``{"runs", "page", "per_page", "has_next"}``."""
    filters = parse_filters(dict(args))
    page = parse_page(args.get("page"))
    with session_scope() as session:
        result = list_runs(session, filters, page=page, per_page=per_page)
        runs = [run_json(run, with_summaries=False) for run in result.runs]
    return {"runs": runs, "page": result.page, "per_page": result.per_page, "has_next": result.has_next}


def dashboard() -> list[JsonDict]:
    """Every project with the latest run of each of its environments (``None`` if never deployed)."""
    with session_scope() as session:
        rows = []
        for project in list_projects(session):
            latest: dict[str, JsonDict | None] = {}
            for environment in project.environments:
                filters = RunFilters(project=project.name, environment=environment.name)
                runs = list_runs(session, filters, page=1, per_page=1).runs
                latest[environment.name] = run_json(runs[0], with_summaries=False) if runs else None
            rows.append({"project": _with_id(project), "latest": latest})
        return rows
