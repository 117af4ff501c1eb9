"""Registering and editing projects: ``POST /api/v1/projects`` (admins), ``GET /api/v1/projects/<project>``,
``PATCH`` (admins, and release managers for the projects granted to them), ``DELETE`` (admins: archives the
project, its runs stay). Thin views over ``playdeck.projects.registry``; the body is checked (inline
inventories by ansible-inventory) before a database session is opened. Secrets are write-only: a project's
JSON says which credentials are set, never their values.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.orm import Session

from playdeck.auth.permissions import Action, Role
from playdeck.db import session_scope
from playdeck.models import Project
from playdeck.projects import get_project, registry
from playdeck.projects.changes import ProjectChanges, parse_changes
from playdeck.release_control import freeze_windows
from webui import access
from webui.created import created
from webui.payloads import json_request_body

bp = Blueprint("projects_api", __name__, url_prefix="/api/v1/projects")


def _changes() -> ProjectChanges:
    # file:// reads the server's disk: an admin's call.
    return parse_changes(json_request_body(), allow_file_urls=access.principal().at_least(Role.ADMIN))


def _shown(session: Session, project: Project) -> dict[str, Any]:
    """``registry.describe``, each environment with where it stands with freeze windows now (``freeze``)."""
    shown = registry.describe(session, project)
    freezes = freeze_windows.statuses_json(session, [env.id for env in project.environments])
    for described, environment in zip(shown["environments"], project.environments, strict=True):
        described["freeze"] = freezes[environment.id]
    return shown


@bp.post("")
@access.rule(Action.ADMIN)
def create_project() -> tuple[Response, int]:
    changes = _changes()
    with session_scope() as session:
        shown = _shown(session, registry.create_project(session, access.principal(), changes))
    return created(shown, "projects_api.get_project_json", project=shown["name"])


@bp.get("/<project>")
@access.rule(Action.READ)
def get_project_json(project: str) -> Response:
    with session_scope() as session:
        return jsonify(_shown(session, get_project(session, project)))


@bp.patch("/<project>")
@access.rule(Action.EDIT_PROJECTS)
def update_project(project: str) -> Response:
    changes = _changes()
    with session_scope() as session:
        return jsonify(_shown(session, registry.update_project(session, access.principal(), project, changes)))


@bp.delete("/<project>")
@access.rule(Action.ADMIN)
def archive_project(project: str) -> Response:
    """Archives: the project and its runs are kept, it leaves the lists and is never deployed again."""
    with session_scope() as session:
        return jsonify(_shown(session, registry.archive_project(session, access.principal(), project)))
