"""Registering and editing a project in the browser: ``/admin/projects/new`` (admins),
``/admin/projects/<name>/edit`` (admins, and release managers for the projects granted to them) and the
archive button (admins). Thin views over ``playdeck.projects.registry`` (which checks and audits), with the
form of ``webui.project_forms``; a refused form comes back with the reason next to its field and what was
typed, except the secrets, which are never drawn into a page. CSRF as every form (``webui.access``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from playdeck.auth import permissions
from playdeck.auth.permissions import Action, Role
from playdeck.db import session_scope
from playdeck.errors import Forbidden, PlaydeckError
from playdeck.projects import get_project, is_built_in, registry
from playdeck.projects.changes import parse_changes
from webui import access
from webui.origin import require_same_origin
from webui.project_forms import body_of, changed_only, view_of_project, view_of_request

bp = Blueprint("project_admin", __name__, url_prefix="/admin/projects")
CROSS_SITE = "projects can only be changed from Playdeck's own pages or through the API"

PageResult = tuple[str, int] | Response


def _page(view: dict[str, Any], creating: bool, status: int = 200, error: PlaydeckError | None = None) -> PageResult:
    page = render_template(
        "admin_project_form.html",
        view=view,
        creating=creating,
        error=error.message if error else None,
        error_field=getattr(error, "field", None) if error else None,
    )
    return page, status


def _described(name: str) -> dict[str, Any]:
    """The project as ``registry.describe`` shows it, if the caller may edit it."""
    principal = access.principal()
    with session_scope() as session:
        project = get_project(session, name)
        if is_built_in(project.name):
            raise Forbidden(f"project '{name}' is built into Playdeck: it cannot be edited")
        permissions.require_project_editor(principal, project.id, project.name)
        return registry.describe(session, project)


@bp.get("/new")
@access.rule(Action.ADMIN)
def new_project() -> PageResult:
    return _page(view_of_project(None), creating=True)


@bp.post("/new")
@access.rule(Action.ADMIN)
def create_project() -> PageResult:
    require_same_origin(CROSS_SITE)
    view = view_of_request(request.form)
    try:
        changes = parse_changes({"name": view["name"], **body_of(view, request.form)}, allow_file_urls=True)
        with session_scope() as session:
            registry.create_project(session, access.principal(), changes)
    except PlaydeckError as exc:
        return _page(view, creating=True, status=exc.status_code, error=exc)
    return redirect(url_for("admin_pages.project_page", name=view["name"]), 303)


@bp.get("/<name>/edit")
@access.rule(Action.EDIT_PROJECTS)
def edit_project(name: str) -> PageResult:
    return _page(view_of_project(_described(name)), creating=False)


@bp.post("/<name>/edit")
@access.rule(Action.EDIT_PROJECTS)
def update_project(name: str) -> PageResult:
    require_same_origin(CROSS_SITE)
    view = {**view_of_request(request.form), "name": name}
    principal = access.principal()
    try:
        body = changed_only(body_of(view, request.form), _described(name))
        if body:
            changes = parse_changes(body, allow_file_urls=principal.at_least(Role.ADMIN))
            with session_scope() as session:
                registry.update_project(session, principal, name, changes)
    except PlaydeckError as exc:
        return _page(view, creating=False, status=exc.status_code, error=exc)
    return redirect(url_for(".edit_project", name=name), 303)


@bp.post("/<name>/archive")
@access.rule(Action.ADMIN)
def archive_project(name: str) -> Response:
    require_same_origin(CROSS_SITE)
    with session_scope() as session:
        registry.archive_project(session, access.principal(), name)
    return redirect(url_for("admin_pages.projects_page"), 303)
