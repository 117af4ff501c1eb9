"""The one small API through which a committed run is handed to the workers: its message, sent after the
caller's commit (``dispatch_after_commit``; ``playdeck.unit_of_work``), or again by the reaper."""

from __future__ import annotations

import datetime as dt
import functools
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from playdeck.db import session_scope
from playdeck.errors import DispatchError
from playdeck.models import Run, utcnow
from playdeck.runs.taskqueue import EXECUTE_RUN_TASK, producer
from playdeck.unit_of_work import send_after_commit

log = logging.getLogger(__name__)


def dispatch_run(run_id: int, queue: str, not_before: dt.datetime | None = None) -> None:
    """Send the run's message. Call only after the transaction that created the run has committed.

    ``not_before`` (naive UTC, the run's column): the message is delivered then, not before.
    If the broker refuses, the run stays ``queued`` in the DB (the source of truth) and the error
    says so; nothing is lost.
    """
    options = {}
    if not_before is not None:
        countdown = (not_before - utcnow()).total_seconds()
        if countdown > 0:
            options["countdown"] = countdown
    try:
        producer().send_task(EXECUTE_RUN_TASK, args=[run_id], queue=queue, routing_key=queue, **options)
    except Exception as exc:  # the broker client raises many types; the caller needs one
        log.exception("dispatch of run %s failed", run_id)
        raise DispatchError(f"run {run_id} is recorded but the broker did not take it: {exc}") from exc


def redispatch_run(run_id: int, queue: str) -> None:
    """Send a run's message again (its first was consumed while it waited, or lost by the broker) and
    record when, so the reaper does not send it again before its time. Outside any transaction of the
    caller's (the reaper's pass, or after a commit): it reads and stamps the run in short ones of its own."""
    with session_scope() as session:
        not_before = session.scalar(select(Run.not_before).where(Run.id == run_id))
    dispatch_run(run_id, queue, not_before)
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(dispatched_at=utcnow()))


def dispatch_after_commit(
    session: Session, run_id: int, queue: str, not_before: dt.datetime | None = None, must_succeed: bool = False
) -> None:
    """``dispatch_run`` once the caller's transaction has committed (the run's row is then readable by the
    worker); nothing if it rolls back. ``must_succeed``: a refusing broker is raised to the caller."""
    send_after_commit(session, functools.partial(dispatch_run, run_id, queue, not_before), must_succeed)


def redispatch_after_commit(session: Session, run_id: int, queue: str) -> None:
    """``redispatch_run`` once the caller's transaction has committed; a failure is left to the reaper."""
    send_after_commit(session, functools.partial(redispatch_run, run_id, queue))
