"""The run page's Approve and Reject buttons (with a comment): the same service as
``POST /api/v1/runs/<id>/approve|reject``; a refusal is shown on the run page with its status."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from playdeck.auth.permissions import Action
from playdeck.errors import Conflict, Forbidden, ValidationError
from webui import access, pages, queries
from webui.origin import require_same_origin

bp = Blueprint("approval_pages", __name__)


def _decide(run_id: int, decision: str) -> Response | tuple[str, int]:
    require_same_origin("runs can only be approved or rejected from Playdeck's own pages or through the API")
    try:
        queries.decide(run_id, access.principal(), decision, request.form.get("comment", ""))
    except (Conflict, Forbidden, ValidationError) as exc:
        return pages.run_page(run_id, exc.message), exc.status_code
    return redirect(url_for("pages.run", run_id=run_id), 303)


@bp.post("/runs/<int:run_id>/approve")
@access.rule(Action.APPROVE)
def approve(run_id: int) -> Response | tuple[str, int]:
    return _decide(run_id, "approve")


@bp.post("/runs/<int:run_id>/reject")
@access.rule(Action.APPROVE)
def reject(run_id: int) -> Response | tuple[str, int]:
    return _decide(run_id, "reject")
