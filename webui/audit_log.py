"""The audit log, browsable and filterable: ``/audit`` and ``/api/v1/audit`` (admins), newest first, in
keyset pages (``before`` an event id)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from playdeck import audit
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.serializers import iso
from webui import access
from webui.params import int_param

bp = Blueprint("audit_log", __name__)
PAGE_SIZE = 50
FILTERS = ("actor", "action", "target_type", "target")
# Ids are BIGINT (SQLite: 64-bit INTEGER).
MAX_ID = 2**63 - 1


def _page() -> tuple[list[dict[str, Any]], str | None, dict[str, str]]:
    """The events the query asks for, as JSON, and the next page's query string (None: no more)."""
    chosen = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    limit = int_param("limit", request.args.get("limit"), PAGE_SIZE, 1, audit.MAX_PAGE)
    before = int_param("before", request.args.get("before"), MAX_ID, 1, MAX_ID)
    with session_scope() as session:
        found, more = audit.list_events(session, audit.AuditFilters(**chosen), before_id=before, limit=limit)
        events = [
            {
                "id": event.id,
                "at": iso(event.at),
                "actor": event.actor,
                "address": event.address,
                "action": event.action,
                "target_type": event.target_type,
                "target": event.target,
                "details": event.details,
            }
            for event in found
        ]
    if not (more and events):
        return events, None, chosen
    return events, urlencode({**chosen, "before": events[-1]["id"], "limit": limit}), chosen


@bp.get("/api/v1/audit")
@access.rule(Action.ADMIN)
def list_json() -> Response:
    events, more, _ = _page()
    return jsonify(events=events, next=url_for("audit_log.list_json") + "?" + more if more else None)


@bp.get("/audit")
@access.rule(Action.ADMIN)
def page() -> str:
    events, more, chosen = _page()
    return render_template("audit.html", events=events, filters=chosen, next_query=more)
