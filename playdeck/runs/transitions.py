"""A run's state changes: conditional UPDATEs (``WHERE state IN <allowed sources>``), so two processes
racing for the same run never both win: a run is claimed by at most one worker and ends in exactly one state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Update, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from playdeck import audit, webhooks
from playdeck.db_clock import database_utcnow
from playdeck.errors import Conflict
from playdeck.inputs import check_user_name
from playdeck.models import Run, RunHostSummary, utcnow
from playdeck.runs import locks
from playdeck.runs.queries import get_run
from playdeck.runs.states import TERMINAL_STATES, RunState, sources_of
from playdeck.worker_identity import current_worker_id

QUEUED_ONLY = frozenset({RunState.QUEUED})
RUNNING_ONLY = frozenset({RunState.RUNNING})
AWAITING_ONLY = frozenset({RunState.AWAITING_APPROVAL})
EXPIRED_REASON = "the approval request expired before enough approvers agreed"


def by_primary_key(statement: Update) -> Update:
    """An UPDATE of runs chosen by id, made to reach them through the primary key. MariaDB otherwise may
    take ``id = ? AND state IN (...)`` through ix_runs_state (which ends with the id), locking the index
    entry before the row: two transactions, one of which locked the row first (a decision, the expiry),
    then wait for each other, a deadlock instead of a winner."""
    for dialect in ("mysql", "mariadb"):
        statement = statement.with_hint("FORCE INDEX (PRIMARY)", dialect_name=dialect)
    return statement


def transition(
    session: Session,
    run_id: int,
    target: RunState,
    only_from: frozenset[RunState] | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    **values: Any,
) -> bool:
    """Move the run to ``target`` if its current state allows it (and is in ``only_from``, if given, and
    the run meets the ``where`` conditions); False if another process got there first."""
    sources = sources_of(target) if only_from is None else sources_of(target) & only_from
    if target in TERMINAL_STATES:
        # A launch's secret inputs are kept only for the worker that starts the run.
        values["secret_vars_sealed"] = None
    result = session.execute(
        by_primary_key(update(Run))
        .where(Run.id == run_id, Run.state.in_([s.value for s in sources]), *where)
        .values(state=target.value, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    if target in TERMINAL_STATES:
        # In the same transaction as the terminal state: no path to an end can leave the lock behind.
        locks.release(session, run_id)
    # Likewise the webhook notifications (an outbox): they commit, or roll back, with the state change.
    webhooks.enqueue(session, run_id, target)
    return True


def claim_run(session: Session, run_id: int, worker_host: str, worker_pid: int, worker_id: int | None = None) -> bool:
    """queued → running for exactly one worker, however many times the message is delivered.

    ``worker_id`` defaults to the registered worker master of this (pool) process, if any.
    False also when the run's environment is locked by another running deploy: the run then stays
    queued (this transaction is rolled back) until the holder ends and dispatches it again.
    """
    now = utcnow()
    claimed = transition(
        session,
        run_id,
        RunState.RUNNING,
        started_at=now,
        heartbeat_at=database_utcnow(),
        worker_host=worker_host,
        worker_pid=worker_pid,
        worker_id=current_worker_id() if worker_id is None else worker_id,
        attempt=Run.attempt + 1,
    )
    if claimed and locks.acquire(session, run_id) is not None:
        session.rollback()
        return False
    return claimed


def finish_run(session: Session, run_id: int, state: RunState, rc: int | None = None, reason: str = "") -> bool:
    if state not in TERMINAL_STATES:
        raise ValueError(f"{state} is not a terminal state")
    return transition(session, run_id, state, finished_at=utcnow(), rc=rc, reason=reason)


@dataclass
class RunControl:
    """What an executing worker must know: is the run still its to run, and was a cancel requested."""

    state: str
    cancel_requested: bool


def control(session: Session, run_id: int, beat: bool = False) -> RunControl:
    """Read the run's control state; with ``beat``, also prove the worker is alive (heartbeat)."""
    if beat:
        session.execute(
            update(Run)
            .where(Run.id == run_id, Run.state == RunState.RUNNING.value)
            .values(heartbeat_at=database_utcnow())
            .execution_options(synchronize_session=False)
        )
    row = session.execute(select(Run.state, Run.cancel_requested_at).where(Run.id == run_id)).one()
    return RunControl(state=row.state, cancel_requested=row.cancel_requested_at is not None)


def request_cancel(session: Session, run_id: int, by: str, force: bool = False) -> Run:
    """Cancel a run: a queued one ends ``canceled`` at once and never starts; a running one is flagged
    and its worker stops the whole process tree, then records ``canceled``.

    ``force`` is for a run whose worker has vanished: the run is recorded ``canceled`` (and its deploy
    lock released) at once; a worker that is in fact alive sees the state change on its next control
    poll and stops every process of the run. A run ended here sets its environment's lock free: the next
    run waiting for it is sent after the caller's commit.

    An ended run is a Conflict. Racing a run's own completion, exactly one terminal state wins: the
    conditional updates decide.
    """
    check_user_name(by, "canceled_by")
    now = utcnow()
    stamp = {"cancel_requested_at": now, "canceled_by": by}
    action = "run.force_cancel" if force else "run.cancel"
    at_once = [
        (AWAITING_ONLY, RunState.AWAITING_APPROVAL, f"canceled by {by} while awaiting approval"),
        (QUEUED_ONLY, RunState.QUEUED, f"canceled by {by} before it started"),
    ]
    if force:
        at_once.append(
            (RUNNING_ONLY, RunState.RUNNING, f"force-canceled by {by}: recorded without waiting for the worker")
        )
    for only_from, was, reason in at_once:
        if transition(session, run_id, RunState.CANCELED, only_from, finished_at=now, reason=reason, **stamp):
            audit.record(session, action, "run", run_id, {"was": was.value}, actor=by)
            run = get_run(session, run_id)
            if was != RunState.AWAITING_APPROVAL:  # a run awaiting approval never held the lock
                locks.dispatch_next_waiting(session, run.project_id, run.environment_id)
            return run
    flagged = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.state == RunState.RUNNING.value, Run.cancel_requested_at.is_(None))
        .values(**stamp)
        .execution_options(synchronize_session=False)
    )
    run = get_run(session, run_id)
    if run.state in TERMINAL_STATES:
        raise Conflict(f"run {run_id} already ended: it is {run.state}")
    if flagged.rowcount:
        audit.record(session, action, "run", run_id, {"was": RunState.RUNNING.value}, actor=by)
    return run


def supersede_waiting(session: Session, run: Run) -> None:
    """Cancel the older runs still queued for the same environment: the newer version replaces them."""
    now = utcnow()
    waiting = session.scalars(
        select(Run.id).where(
            Run.project_id == run.project_id,
            Run.environment_id == run.environment_id,
            Run.state == RunState.QUEUED.value,
            Run.id < run.id,
        )
    ).all()
    # One by one through the conditional transition (few runs wait): one that started meanwhile keeps
    # running, and each cancel notifies like any other.
    for run_id in waiting:
        transition(
            session,
            run_id,
            RunState.CANCELED,
            QUEUED_ONLY,
            finished_at=now,
            cancel_requested_at=now,
            canceled_by=run.requested_by,
            reason=f"superseded by run {run.id}",
        )


# --- approvals: each decision is one conditional UPDATE of the run's row, so a decision, the expiry and a
# cancel racing for the same run are decided by the database, one after the other (the first UPDATE holds
# the row until its transaction ends).


def _still_awaiting(now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    # Past its deadline a request takes no decision, even before the reaper's pass records it expired.
    return (Run.approval_expires_at > now,)


def count_approval(session: Session, run_id: int, now: dt.datetime) -> tuple[int, int] | None:
    """One more approval of a run still awaiting it: (approvals given, approvals required), or None when the
    run no longer awaits approval or its deadline has passed. The row stays locked until the caller's
    commit, so the numbers read back are the run's own."""
    result = session.execute(
        by_primary_key(update(Run))
        .where(Run.id == run_id, Run.state == RunState.AWAITING_APPROVAL.value, *_still_awaiting(now))
        .values(approvals_given=Run.approvals_given + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    row = session.execute(select(Run.approvals_given, Run.approvals_required).where(Run.id == run_id)).one()
    return row.approvals_given, row.approvals_required


def queue_approved(session: Session, run_id: int, now: dt.datetime) -> bool:
    """awaiting_approval → queued once its approvals are complete; the caller dispatches it after commit."""
    return transition(
        session,
        run_id,
        RunState.QUEUED,
        AWAITING_ONLY,
        where=(Run.approvals_given >= Run.approvals_required,),
        approved_at=now,
        dispatched_at=now,
    )


def reject(session: Session, run_id: int, now: dt.datetime, reason: str) -> bool:
    """awaiting_approval → rejected, unless its deadline has passed or another decision came first."""
    return transition(
        session, run_id, RunState.REJECTED, AWAITING_ONLY, where=_still_awaiting(now), finished_at=now, reason=reason
    )


def expire_due(session: Session, now: dt.datetime, limit: int) -> list[int]:
    """awaiting_approval → expired for at most ``limit`` runs whose deadline has passed; the ids expired.

    The due runs are found without locks, then locked by primary key (``SKIP LOCKED`` on MariaDB/MySQL:
    several reapers share the work instead of waiting for each other), re-checked and expired in one UPDATE.
    By primary key like every state change (``by_primary_key``), so both lock a run in the same order
    (locking through the (state, deadline) index first deadlocked with a rejection). Should fewer rows change than
    were locked (SQLite locks no rows: another process was faster), each is expired on its own instead, so
    the ids returned are exactly the runs this transaction expired."""
    candidates = list(
        session.scalars(
            select(Run.id)
            .where(Run.state == RunState.AWAITING_APPROVAL.value, Run.approval_expires_at <= now)
            .order_by(Run.id)
            .limit(limit)
        )
    )
    if not candidates:
        return []
    ids = _lock_still_due(session, candidates, now)
    if not ids:
        return []
    values = {"state": RunState.EXPIRED.value, "finished_at": now, "reason": EXPIRED_REASON, "secret_vars_sealed": None}
    with session.begin_nested() as savepoint:
        result = session.execute(
            by_primary_key(update(Run))
            .where(Run.id.in_(ids), Run.state == RunState.AWAITING_APPROVAL.value, Run.approval_expires_at <= now)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != len(ids):
            savepoint.rollback()
    if result.rowcount != len(ids):
        conditions = (Run.approval_expires_at <= now,)
        return [
            run_id
            for run_id in ids
            if transition(
                session,
                run_id,
                RunState.EXPIRED,
                AWAITING_ONLY,
                where=conditions,
                finished_at=now,
                reason=EXPIRED_REASON,
            )  # fmt: skip
        ]
    # A run awaiting approval holds no deploy lock: only the notifications of an ending are due.
    webhooks.enqueue_many(session, ids, RunState.EXPIRED)
    return ids


def _lock_still_due(session: Session, candidates: list[int], now: dt.datetime) -> list[int]:
    """Of ``candidates``, those still awaiting approval past their deadline, locked (MariaDB/MySQL) by primary
    key alone; those another transaction holds are skipped."""
    rows = select(Run.id, Run.state, Run.approval_expires_at).where(Run.id.in_(candidates)).order_by(Run.id)
    if session.get_bind().dialect.name != "sqlite":
        rows = rows.with_for_update(skip_locked=True)
    return [
        row.id
        for row in session.execute(rows)
        if row.state == RunState.AWAITING_APPROVAL.value and row.approval_expires_at <= now
    ]


def set_playbook_pid(session: Session, run_id: int, pid: int) -> None:
    session.execute(update(Run).where(Run.id == run_id).values(playbook_pid=pid))


def record_host_summaries(session: Session, run_id: int, stats: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Per-host totals from the ``playbook_on_stats`` event (``{"ok": {"host": n}, "failures": {...}}``);
    returns them as host -> column -> count."""
    columns = {
        "ok": "ok",
        "changed": "changed",
        "failures": "failed",
        "dark": "unreachable",
        "skipped": "skipped",
        "rescued": "rescued",
        "ignored": "ignored",
    }
    per_host: dict[str, dict[str, int]] = {}
    for stat_name, column in columns.items():
        for host, count in (stats.get(stat_name) or {}).items():
            per_host.setdefault(host, {})[column] = int(count)
    for host, counts in per_host.items():
        session.merge(RunHostSummary(run_id=run_id, host=host, **counts))
    return per_host
