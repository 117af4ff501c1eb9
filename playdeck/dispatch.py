"""The one small API through which the web UI and CLI hand a committed run to the workers."""

from __future__ import annotations

import logging

from playdeck.errors import DispatchError
from playdeck.taskqueue import EXECUTE_RUN_TASK, producer

log = logging.getLogger(__name__)


def dispatch_run(run_id: int, queue: str) -> None:
    """Send the run's message. Call only after the transaction that created the run has committed.

    If the broker refuses, the run stays ``queued`` in the DB (the source of truth) and the error
    says so; nothing is lost.
    """
    try:
        producer().send_task(EXECUTE_RUN_TASK, args=[run_id], queue=queue, routing_key=queue)
    except Exception as exc:  # the broker client raises many types; the caller needs one
        log.exception("dispatch of run %s failed", run_id)
        raise DispatchError(f"run {run_id} is recorded but the broker did not take it: {exc}") from exc


def redispatch_run(run_id: int, queue: str) -> None:
    """Send a run's message again (its first was consumed while it waited, or lost by the broker) and
    record when, so the reaper does not send it again before its time."""
    from sqlalchemy import update

    from playdeck.db import session_scope
    from playdeck.models import Run, utcnow

    dispatch_run(run_id, queue)
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(dispatched_at=utcnow()))
