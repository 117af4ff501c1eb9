"""A page of a delivery log (a webhook's, a notification destination's), read from ``before`` and ``limit``
in the query string: the rows as JSON objects and the id the next page starts before (None: no more)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from sqlalchemy.orm import Session

from playdeck import webhooks
from playdeck.db import session_scope
from playdeck.models import WebhookDelivery
from webui.params import int_param

# Ids are BIGINT (SQLite: 64-bit INTEGER).
MAX_ID = 2**63 - 1
Fetch = Callable[[Session, int, int], tuple[list[WebhookDelivery], bool]]


def page(fetch: Fetch) -> tuple[list[dict[str, Any]], int | None]:
    """``fetch(session, before, limit)`` gives the deliveries and whether older ones exist."""
    limit = int_param("limit", request.args.get("limit"), 50, 1, webhooks.MAX_DELIVERIES_PAGE)
    before = int_param("before", request.args.get("before"), MAX_ID, 1, MAX_ID)
    with session_scope() as session:
        found, more = fetch(session, before, limit)
        rows = [webhooks.delivery_dict(delivery) for delivery in found]
    return rows, rows[-1]["id"] if more and rows else None
