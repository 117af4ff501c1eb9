"""``/healthz`` for load balancers and supervisors: up only when the database answers."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from playdeck.db import session_scope
from webui import access

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@access.public
def healthz() -> tuple[Response, int]:
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("health check failed: %s", exc)
        return jsonify(ok=False, error="database unavailable"), 503
    return jsonify(ok=True), 200
