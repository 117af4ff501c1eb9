"""Freeze windows as a page, ``/freeze-windows``: every window with where each environment stands (everyone),
a form to add one, a page to change one (``/freeze-windows/<id>``) and a button to delete one (release
managers and admins). Forms post back here
(CSRF-checked by ``webui.access``); the work is done by ``playdeck.release_control.freeze_windows``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import NotFound, ValidationError
from playdeck.release_control import freeze_windows
from playdeck.release_control.freeze_calendar import KINDS
from webui import access, authorize
from webui.origin import require_same_origin

bp = Blueprint("freeze_pages", __name__, url_prefix="/freeze-windows")

CROSS_SITE = "freeze windows can only be changed from Playdeck's own pages or through the API"


def _page(error: ValidationError | NotFound | None = None, status: int = 200) -> tuple[str, int]:
    with session_scope() as session:
        windows = [freeze_windows.window_json(window) for window in freeze_windows.list_windows(session)]
    return render_template(
        "freeze_windows.html",
        windows=windows,
        kinds=KINDS,
        form=request.form if error is not None else {},
        error=error.message if error else None,
        error_field=getattr(error, "field", None),
    ), status


@bp.get("")
@access.rule(Action.READ)
def index() -> tuple[str, int]:
    return _page()


def _changeable() -> dict[str, Any]:
    """The form's fields but the scope (missing ones empty: refused by the service, naming them)."""
    return {name: request.form.get(name, "") for name in freeze_windows.CHANGEABLE}


def _fields() -> dict[str, Any]:
    """The form's fields as the service takes them: an empty scope is a global window."""
    given = _changeable()
    scope = request.form.get("scope", "").strip()
    if scope:
        project, _, environment = scope.partition("/")
        given |= {"project": project, "environment": environment}
    return given


@bp.post("")
@access.rule(Action.MANAGE_FREEZES)
def create() -> Response | tuple[str, int]:
    require_same_origin(CROSS_SITE)
    try:
        with session_scope() as session:
            freeze_windows.create_window(session, _fields(), who=authorize.actor())
    except (ValidationError, NotFound) as exc:
        return _page(exc, exc.status_code)
    return redirect(url_for("freeze_pages.index"), 303)


def _edit_page(window_id: int, error: ValidationError | None = None) -> tuple[str, int]:
    """The window's change form: its stored values, or (after a refusal) what was posted with the error."""
    with session_scope() as session:
        window = freeze_windows.window_json(freeze_windows.get_window(session, window_id))
    stored = {name: window[name] or "" for name in freeze_windows.CHANGEABLE}
    return render_template(
        "freeze_window_edit.html",
        window=window,
        kinds=KINDS,
        form=request.form if error is not None else stored,
        error=error.message if error else None,
        error_field=getattr(error, "field", None),
    ), error.status_code if error else 200


@bp.get("/<int:window_id>")
@access.rule(Action.MANAGE_FREEZES)
def edit(window_id: int) -> tuple[str, int]:
    return _edit_page(window_id)


@bp.post("/<int:window_id>")
@access.rule(Action.MANAGE_FREEZES)
def update(window_id: int) -> Response | tuple[str, int]:
    """Every field of the form, checked as a PATCH of them all is (``update_window``)."""
    require_same_origin(CROSS_SITE)
    try:
        with session_scope() as session:
            freeze_windows.update_window(session, window_id, _changeable(), who=authorize.actor())
    except ValidationError as exc:
        return _edit_page(window_id, exc)
    return redirect(url_for("freeze_pages.index"), 303)


@bp.post("/<int:window_id>/delete")
@access.rule(Action.MANAGE_FREEZES)
def delete(window_id: int) -> Response:
    require_same_origin(CROSS_SITE)
    with session_scope() as session:
        freeze_windows.delete_window(session, window_id, who=authorize.actor())
    return redirect(url_for("freeze_pages.index"), 303)
