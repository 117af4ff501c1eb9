"""``/metrics`` for Prometheus (text exposition format), computed from the DB on each scrape.

Not public: Prometheus authenticates with an API token of a viewer (``Authorization: Bearer``, its
``bearer_token_file`` / ``authorization.credentials_file``); see the README.
"""

from __future__ import annotations

from flask import Blueprint, Response

from playdeck import metrics
from playdeck.auth.permissions import Action
from webui import access

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@access.rule(Action.READ)
def scrape() -> Response:
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})
