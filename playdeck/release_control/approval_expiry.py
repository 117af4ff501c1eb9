"""The reaper's expiry pass: runs that waited for approval past their deadline end ``expired``.

Several reapers may pass at once: each run is expired by exactly one of them (``transitions.expire_due``
locks the rows it expires, and skips those another reaper holds), and audited and notified once.
"""

from __future__ import annotations

import datetime as dt

from playdeck import audit, duties
from playdeck.db import session_scope
from playdeck.models import utcnow
from playdeck.runs import transitions
from playdeck.settings import Settings

# Runs expired per transaction: row locks and the IN list stay small, a long backlog commits as it goes.
BATCH = 500


def expire_requests(settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """One pass: every request past its deadline expired, in transactions of ``BATCH``; their run ids."""
    now = now or utcnow()
    expired: list[int] = []
    while True:
        with session_scope() as session:
            batch = transitions.expire_due(session, now, BATCH)
            audit.record_many(session, "run.approval_expired", "run", batch, {"deadline_passed_at": now},
                              actor=audit.SYSTEM)  # fmt: skip
        expired += batch
        if len(batch) < BATCH:
            return expired


APPROVAL_EXPIRY = duties.register("approval expiry", expire_requests)
