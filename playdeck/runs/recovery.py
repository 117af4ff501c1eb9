"""Recovery, the run lifecycle's periodic duties (``playdeck.duties``), every ``reaper_interval_seconds``:

- a running run whose heartbeat is older than ``lost_after_seconds`` is recorded ``lost`` — its
  worker died, froze or lost the network; the deploy lock goes with it and the next waiting run is
  dispatched (and, if the project retries lost runs, a retry is queued). If that worker is in fact
  alive, its next control poll sees ``lost`` and stops every process of the run, so a run declared
  lost never goes on anywhere.
- a queued run whose message was sent more than ``redispatch_after_seconds`` ago and that is not
  waiting for a deploy lock gets a new message: a broker restarted without persistence loses
  messages, and a run must not stay queued forever. A duplicate is harmless: one claim wins.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select

from playdeck import duties
from playdeck.db import session_scope
from playdeck.db_clock import database_time
from playdeck.errors import DispatchError
from playdeck.models import Project, Run, utcnow
from playdeck.runs import locks
from playdeck.runs.dispatch import redispatch_run
from playdeck.runs.lost import record_lost
from playdeck.runs.states import RunState
from playdeck.settings import Settings

log = logging.getLogger(__name__)

# Bounds one pass's work; what is left is taken on the next pass.
BATCH = 500


def _age_text(seconds: float) -> str:
    return f"{seconds:.0f} s"


def record_silent_runs_lost(settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """The running runs without a heartbeat for ``lost_after_seconds``, recorded lost; their ids."""
    with session_scope() as session:
        # Heartbeats carry the database's clock (playdeck.db_clock): judged by it, hosts' skew is moot.
        beat_now = now or database_time(session)
        stale_before = beat_now - dt.timedelta(seconds=settings.lost_after_seconds)
        stale = session.execute(
            select(Run.id, Run.heartbeat_at, Run.worker_host)
            .where(Run.state == RunState.RUNNING.value, Run.heartbeat_at < stale_before)
            .order_by(Run.id)
            .limit(BATCH)
        ).all()
    lost = []
    for row in stale:
        silent = (beat_now - row.heartbeat_at).total_seconds()
        reason = f"no heartbeat from worker {row.worker_host} for {_age_text(silent)}: the worker is gone"
        # None when it ended meanwhile: its own state stands.
        with session_scope() as session:
            recorded = record_lost(session, row.id, reason)
        if recorded is not None:
            lost.append(row.id)
    return lost


def resend_forgotten_runs(settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """The queued runs whose message went ``redispatch_after_seconds`` ago, sent again; their ids."""
    # Dispatch times are the web's and workers' own clocks.
    now = now or utcnow()
    resend_before = now - dt.timedelta(seconds=settings.redispatch_after_seconds)
    with session_scope() as session:
        forgotten = session.execute(
            select(Run.id, Run.queue, Run.project_id, Run.environment_id, Project.lock_deploys)
            .join(Project, Run.project_id == Project.id)
            .where(
                Run.state == RunState.QUEUED.value,
                Run.dispatched_at < resend_before,
                # A message held until not_before is not lost before then.
                or_(Run.not_before.is_(None), Run.not_before < resend_before),
            )
            .order_by(Run.id)
            .limit(BATCH)
        ).all()
        waiting_for_lock = {
            row.id
            for row in forgotten
            if row.lock_deploys and locks.holder(session, row.project_id, row.environment_id) not in (None, row.id)
        }
    resent = []
    for row in forgotten:
        if row.id in waiting_for_lock:
            continue  # the lock holder dispatches it when it ends
        try:
            redispatch_run(row.id, row.queue)
        except DispatchError:
            log.exception("could not re-dispatch run %s; next pass tries again", row.id)
            continue
        log.warning("run %s still queued well after its message was sent: sent again", row.id)
        resent.append(row.id)
    return resent


LOST_RUNS = duties.register("lost runs", record_silent_runs_lost)
FORGOTTEN_RUNS = duties.register("forgotten queued runs", resend_forgotten_runs)
