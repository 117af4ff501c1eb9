"""Runs that need attention: the page, its JSON API, and why any one active run is in its state.

A blueprint of its own so the page, ``/api/v1/attention`` and ``/api/v1/runs/<id>/explanation`` live
beside each other; errors (unknown run, database down) are answered by ``webui.errors`` like every view.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template

from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.runs.attention import MAX_AWAITING_SHOWN, attention_overview, silence, state_explanation
from playdeck.runs.queries import get_run
from webui import access

bp = Blueprint("attention", __name__)


def attention_json() -> list[dict[str, Any]]:
    return attention_with_total()[0]


def attention_with_total() -> tuple[list[dict[str, Any]], int]:
    """The runs listed, and how many await approval in all: one short session."""
    with session_scope() as session:
        found, awaiting = attention_overview(session)
        return [attention.to_json() for attention in found], awaiting


def explanation(run_id: int) -> dict[str, Any]:
    with session_scope() as session:
        run = get_run(session, run_id)
        return {"run_id": run.id, "state": run.state, "explanation": state_explanation(session, run)}


@bp.app_template_global("run_explanation")
def run_explanation(run: dict[str, Any]) -> str | None:
    """For a page that shows a run (its JSON shape): why it is queued or running, None once ended."""
    if run.get("terminal"):
        return None
    return explanation(run["id"])["explanation"]


@bp.app_template_global("run_silence")
def run_silence(run: dict[str, Any]) -> dict[str, Any] | None:
    """For the run page (its JSON shape): how long a running run has printed nothing, None otherwise."""
    if run.get("state") != "running":
        return None
    with session_scope() as session:
        quiet = silence(session, get_run(session, run["id"]))
        if quiet is None:
            return None
        return {"seconds": quiet.seconds, "notice_after": quiet.notice_after, "idle_timeout": quiet.idle_timeout}


@bp.get("/attention")
@access.rule(Action.READ)
def page() -> str:
    return page_with_error(None)


def page_with_error(message: str | None) -> str:
    """The page again, saying why a button did nothing (the run ended meanwhile, say)."""
    items, awaiting = attention_with_total()
    return render_template("attention.html", items=items, awaiting=awaiting, shown=MAX_AWAITING_SHOWN, error=message)


@bp.get("/api/v1/attention")
@access.rule(Action.READ)
def list_json() -> Response:
    """The runs listed, and how many await approval in all (the nearest deadlines are listed)."""
    items, awaiting = attention_with_total()
    return jsonify(runs=items, awaiting_approval_total=awaiting)


@bp.get("/api/v1/runs/<int:run_id>/explanation")
@access.rule(Action.READ)
def explanation_json(run_id: int) -> Response:
    return jsonify(explanation(run_id))
