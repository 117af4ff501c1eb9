"""Deploy locks: at most one running deploy per project environment (a per-project setting).

The lock is a row keyed by (project, environment), inserted in the same transaction that claims the
run and deleted in the same transaction that records its terminal state, whichever process records it
(worker, canceller, reaper), so a crash never leaves an environment locked. A run that finds the lock
held stays ``queued``; when the holder ends, the next waiting run is dispatched again.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playdeck.models import DeployLock, Project, Run
from playdeck.runs.dispatch import redispatch_after_commit
from playdeck.runs.states import RunState

log = logging.getLogger(__name__)


def acquire(session: Session, run_id: int) -> int | None:
    """Take the run's environment lock if its project wants one; the holder's run id if it is taken."""
    target = session.execute(
        select(Run.project_id, Run.environment_id, Project.lock_deploys)
        .join(Project, Run.project_id == Project.id)
        .where(Run.id == run_id)
    ).one()
    # Every run of the project, whatever its kind: the DNS project's lock keeps one regeneration of a
    # zone (its environment) running at a time.
    if not target.lock_deploys:
        return None
    try:
        # A savepoint: a duplicate key must not undo the caller's transaction by itself.
        with session.begin_nested():
            session.add(DeployLock(project_id=target.project_id, environment_id=target.environment_id, run_id=run_id))
    except IntegrityError:
        return holder(session, target.project_id, target.environment_id) or -1
    return None


def release(session: Session, run_id: int) -> None:
    session.execute(delete(DeployLock).where(DeployLock.run_id == run_id))


def holder(session: Session, project_id: int, environment_id: int) -> int | None:
    return session.scalar(
        select(DeployLock.run_id).where(
            DeployLock.project_id == project_id, DeployLock.environment_id == environment_id
        )
    )


def next_waiting(session: Session, project_id: int, environment_id: int) -> tuple[int, str] | None:
    """The oldest queued run of the environment, as (id, queue)."""
    row = session.execute(
        select(Run.id, Run.queue)
        .where(
            Run.project_id == project_id,
            Run.environment_id == environment_id,
            Run.state == RunState.QUEUED.value,
        )
        .order_by(Run.id)
        .limit(1)
    ).first()
    return None if row is None else (row.id, row.queue)


def dispatch_next_waiting(session: Session, project_id: int, environment_id: int) -> int | None:
    """A run of this environment ends in the caller's transaction: the next waiting run is sent to the
    workers again once it commits (its first message was consumed while the lock was held). A duplicate
    message is harmless: only one claim wins."""
    waiting = next_waiting(session, project_id, environment_id)
    if waiting is None:
        return None
    redispatch_after_commit(session, *waiting)
    log.info("run %s, waiting for the environment's lock, is sent again after the commit", waiting[0])
    return waiting[0]
