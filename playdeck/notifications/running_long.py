"""The reaper's duty that notices deploys running longer than usual and notifies ``running_long`` once.

"Usual" is the median duration of the environment's last ``running_long_runs`` successful real deploys
(at least ``MIN_SAMPLES`` of them, else there is no usual yet); a running real deploy started more than
``running_long_factor`` × that ago is running long. Each run is noticed once however many reapers look: the
notice is a row keyed by (run, event) inserted only while the run still runs, so a second reaper's insert
fails on the key and enqueues nothing, and a run that ended meanwhile is not noticed at all.
"""

from __future__ import annotations

import datetime as dt
import statistics

from sqlalchemy import insert, literal, select
from sqlalchemy.exc import IntegrityError

from playdeck import duties, webhooks
from playdeck.db import session_scope
from playdeck.models import Run, utcnow
from playdeck.notifications.models import RunNotice
from playdeck.runs.conditions import is_real_deploy
from playdeck.runs.queries import recent_deploy_durations
from playdeck.runs.states import RunState
from playdeck.settings import Settings

EVENT = "running_long"
MIN_SAMPLES = 3
# Bounds one pass's work; the rest is looked at on the next pass.
BATCH = 500


def _overdue(settings: Settings, now: dt.datetime) -> list[int]:
    """The running real deploys, not noticed yet, past their environment's usual duration × the factor."""
    with session_scope() as session:
        running = session.execute(
            select(Run.id, Run.environment_id, Run.started_at)
            .outerjoin(RunNotice, (RunNotice.run_id == Run.id) & (RunNotice.event == EVENT))
            .where(Run.state == RunState.RUNNING.value, is_real_deploy(), RunNotice.run_id.is_(None))
            .order_by(Run.id)
            .limit(BATCH)
        ).all()
        usual: dict[int, float | None] = {}
        overdue = []
        for run_id, environment_id, started_at in running:
            if environment_id not in usual:
                durations = recent_deploy_durations(session, environment_id, settings.running_long_runs)
                usual[environment_id] = statistics.median(durations) if len(durations) >= MIN_SAMPLES else None
            median = usual[environment_id]
            if median is not None and started_at is not None:
                if (now - started_at).total_seconds() > median * settings.running_long_factor:
                    overdue.append(run_id)
    return overdue


def _notice(run_id: int, now: dt.datetime) -> bool:
    """Record the notice and enqueue its notifications, in one transaction; False if another reaper did,
    or the run ended meanwhile."""
    try:
        with session_scope() as session:
            recorded = session.execute(
                insert(RunNotice).from_select(
                    ["run_id", "event", "created_at"],
                    select(Run.id, literal(EVENT), literal(now)).where(
                        Run.id == run_id, Run.state == RunState.RUNNING.value
                    ),
                )
            )
            if recorded.rowcount != 1:
                return False
            webhooks.enqueue_event(session, run_id, EVENT)
    except IntegrityError:
        return False
    return True


def notice_long_runs(settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """One pass: the runs noticed running long now (each once, ever)."""
    if settings.running_long_factor <= 0:
        return []
    # Started times are the workers' own clocks (utcnow), so is this.
    now = now or utcnow()
    return [run_id for run_id in _overdue(settings, now) if _notice(run_id, now)]


RUNNING_LONG = duties.register("running longer than usual", notice_long_runs)
