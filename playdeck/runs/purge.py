"""Old runs leave the DB with their events and host summaries (``PLAYDECK_RUN_RETENTION_DAYS``: the
reaper purges once an hour; ``playdeck runs purge`` on demand).

Purging deletes a run's events (and their narrow copies, ``run_event_lines`` and ``run_event_failures``)
a few thousand at a time, each batch its own short transaction over one range of the (run_id, counter)
keys: a worker writing a live run's events, or a page reading one, never waits behind a long DELETE
(measured by ``python -m bench retention``). Queued and running runs are never touched.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from sqlalchemy import delete, select

from playdeck import duties
from playdeck.db import session_scope
from playdeck.models import Run, RunEvent, RunEventFailure, RunEventLine, RunHostSummary, utcnow
from playdeck.runs.conditions import is_ended
from playdeck.settings import Settings

log = logging.getLogger(__name__)

PURGE_BATCH_ROWS = 5000
PURGE_RUNS_PER_PASS = 100
PURGE_EVERY_SECONDS = 3600
# What an event is stored as: the narrow copies go with it, deleted explicitly rather than left to the
# foreign keys' cascade, so each batch stays one range of each table.
EVENT_TABLES = (RunEventLine, RunEventFailure)


@dataclass
class PurgeReport:
    runs: int = 0
    events: int = 0
    transactions: int = 0
    # The longest single transaction (DELETE + commit): how long a row lock was held at most.
    longest_transaction_seconds: float = 0.0

    def timed(self, started: float) -> None:
        self.transactions += 1
        self.longest_transaction_seconds = max(self.longest_transaction_seconds, time.perf_counter() - started)


def purge_runs(
    queued_before: dt.datetime, batch_rows: int = PURGE_BATCH_ROWS, pause_seconds: float = 0.0
) -> PurgeReport:
    """Delete the ended runs queued before ``queued_before`` (naive UTC), with their events and host
    summaries, in transactions of at most about ``batch_rows`` events; ``pause_seconds`` between them
    leaves the DB to the live system on a busy server. Queued and running runs are never touched.

    Small runs go several to a transaction (as many as ``batch_rows`` events hold); a large run's events
    are deleted ``batch_rows`` at a time before its row."""
    report = PurgeReport()
    after = 0
    while True:
        with session_scope() as session:
            candidates = session.execute(
                select(Run.id, Run.event_count)
                .where(Run.queued_at < queued_before, is_ended(), Run.id > after)
                .order_by(Run.id)
                .limit(PURGE_RUNS_PER_PASS)
            ).all()
        if not candidates:
            break
        group: list[int] = []
        rows = 0
        for run_id, event_count in candidates:
            if event_count > batch_rows:
                _delete_events_in_batches(run_id, batch_rows, pause_seconds, report)
                event_count = 0  # only its row is left
            if group and rows + event_count > batch_rows:
                _delete_runs(group, report, pause_seconds)
                group, rows = [], 0
            group.append(run_id)
            rows += event_count
        if group:
            _delete_runs(group, report, pause_seconds)
        after = candidates[-1].id
    if report.runs:
        log.info("purged %d runs and %d events queued before %s", report.runs, report.events, queued_before)
    return report


def _delete_events_in_batches(run_id: int, batch_rows: int, pause_seconds: float, report: PurgeReport) -> None:
    """Delete one run's events, oldest first, ``batch_rows`` per transaction (a range of the
    (run_id, counter) index each), leaving the run's own row."""
    while True:
        started = time.perf_counter()
        with session_scope() as session:
            upper = session.scalar(
                select(RunEvent.counter)
                .where(RunEvent.run_id == run_id)
                .order_by(RunEvent.counter)
                .offset(batch_rows - 1)
                .limit(1)
            )
            for table in EVENT_TABLES:
                session.execute(delete(table).where(*_up_to(table, run_id, upper)))
            report.events += session.execute(delete(RunEvent).where(*_up_to(RunEvent, run_id, upper))).rowcount
        report.timed(started)
        if pause_seconds:
            time.sleep(pause_seconds)
        if upper is None:
            return


def _up_to(table: type[RunEvent] | type[RunEventLine] | type[RunEventFailure], run_id: int, upper: int | None):
    """The run's rows of ``table`` up to counter ``upper`` (all of them: None)."""
    return [table.run_id == run_id] + ([] if upper is None else [table.counter <= upper])


def _delete_runs(run_ids: list[int], report: PurgeReport, pause_seconds: float) -> None:
    """The runs, their (remaining) events and host summaries, in one transaction."""
    started = time.perf_counter()
    with session_scope() as session:
        for table in EVENT_TABLES:
            session.execute(delete(table).where(table.run_id.in_(run_ids)))
        report.events += session.execute(delete(RunEvent).where(RunEvent.run_id.in_(run_ids))).rowcount
        session.execute(delete(RunHostSummary).where(RunHostSummary.run_id.in_(run_ids)))
        report.runs += session.execute(delete(Run).where(Run.id.in_(run_ids))).rowcount
    report.timed(started)
    if pause_seconds:
        time.sleep(pause_seconds)


def purge_expired(settings: Settings, now: dt.datetime | None = None) -> PurgeReport | None:
    """The runs queued more than ``run_retention_days`` ago; None when retention is off (0)."""
    if settings.run_retention_days <= 0:
        return None
    cutoff = (now or utcnow()) - dt.timedelta(days=settings.run_retention_days)
    return purge_runs(cutoff)


PURGE = duties.register("purge", purge_expired, every=PURGE_EVERY_SECONDS)
