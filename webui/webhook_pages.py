"""A project's webhooks as pages (admins): the list with a form to add one, and each one's delivery log.
Buttons post forms back here (CSRF-checked by ``webui.access``); the work is done by ``playdeck.webhooks``."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for

from playdeck import webhooks
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from webui import access, authorize
from webui.webhooks_api import deliveries_page

bp = Blueprint("webhook_pages", __name__, url_prefix="/projects/<project>/webhooks")


def _list_page(project: str, error: ValidationError | None = None, status: int = 200) -> tuple[str, int]:
    with session_scope() as session:
        hooks = webhooks.list_webhooks(session, project)
    form = request.form if error is not None else {}
    return render_template(
        "webhooks.html",
        project=project,
        hooks=hooks,
        events=webhooks.EVENTS,
        formats=webhooks.FORMATS,
        form=form,
        error=error.message if error else None,
        error_field=error.field if error else None,
    ), status


@bp.get("")
@access.rule(Action.ADMIN)
def index(project: str) -> tuple[str, int]:
    return _list_page(project)


@bp.post("")
@access.rule(Action.ADMIN)
def create(project: str) -> Response | tuple[str, int]:
    try:
        with session_scope() as session:
            webhooks.create_webhook(
                session,
                project,
                request.form.get("url", "").strip(),
                format=request.form.get("format", "json"),
                events=request.form.getlist("events") or [],
                secret=request.form.get("secret", ""),
                active=request.form.get("active") == "1",
                who=authorize.actor(),
            )
    except ValidationError as exc:
        return _list_page(project, exc, 400)
    return redirect(url_for("webhook_pages.index", project=project), 303)


@bp.post("/<int:webhook_id>/active")
@access.rule(Action.ADMIN)
def set_active(project: str, webhook_id: int) -> Response:
    with session_scope() as session:
        webhooks.set_active(session, project, webhook_id, request.form.get("active") == "1", who=authorize.actor())
    return redirect(url_for("webhook_pages.index", project=project), 303)


@bp.post("/<int:webhook_id>/delete")
@access.rule(Action.ADMIN)
def delete(project: str, webhook_id: int) -> Response:
    with session_scope() as session:
        webhooks.delete_webhook(session, project, webhook_id, who=authorize.actor())
    return redirect(url_for("webhook_pages.index", project=project), 303)


@bp.post("/<int:webhook_id>/test")
@access.rule(Action.ADMIN)
def test(project: str, webhook_id: int) -> Response:
    with session_scope() as session:
        webhooks.enqueue_test(session, project, webhook_id, who=authorize.actor())
    return redirect(url_for("webhook_pages.deliveries", project=project, webhook_id=webhook_id), 303)


@bp.get("/<int:webhook_id>")
@access.rule(Action.ADMIN)
def deliveries(project: str, webhook_id: int) -> str:
    with session_scope() as session:
        hook = webhooks.get_view(session, project, webhook_id)
    rows, next_before = deliveries_page(project, webhook_id)
    return render_template(
        "webhook_deliveries.html", project=project, hook=hook, deliveries=rows, next_before=next_before
    )
