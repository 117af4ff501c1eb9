"""How far a run has got: tasks done per host, of those the previous successful run did, and an ETA.

Expected work comes from the previous successful run of the same project and environment: its host
recap (ok + failed + skipped + unreachable tasks per host, one small query) and its duration. Done work
is the count of task results per host among the run's events. A run can have hundreds of thousands of
events, so they are never counted from the start on every request: a per-process tally remembers how
far it has counted each run and reads only the newer events, at most ``MAX_ROWS_PER_CALL`` per call.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select

from playdeck.db import Executor
from playdeck.models import Run, RunEvent, RunHostSummary, utcnow
from playdeck.runs.queries import is_successful
from playdeck.runs.states import RunState, is_terminal
from playdeck.serializers import HOST_SUMMARY_FIELDS

# ansible-runner's events for one task finished on one host; the recap counts the same outcomes.
TASK_RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")
ROWS_PER_QUERY = 5000
MAX_ROWS_PER_CALL = 50_000
# Runs whose tally is kept; a run scrolled out is counted again from its first event if asked for.
TALLIES_KEPT = 256


@dataclass(frozen=True)
class RunFacts:
    """What a run's progress is worked out from, read as columns by a caller that loads no ``Run``
    entity (the run page: entities were half its CPU, issue 7). ``host_summaries``: rows with ``host``,
    ``ok``, ``failed``, ``skipped`` and ``unreachable``, as a ``Run``'s are."""

    id: int
    environment_id: int
    state: str
    event_count: int
    queued_at: dt.datetime
    started_at: dt.datetime | None
    host_summaries: Sequence[Any]


@dataclass
class Baseline:
    """What the previous successful run of the same project and environment did."""

    run_id: int | None = None
    duration_seconds: float | None = None
    tasks_per_host: dict[str, int] = field(default_factory=dict)


@dataclass
class _Tally:
    counted_through: int = 0
    per_host: Counter[str] = field(default_factory=Counter)


# Keyed by run id and queue time: a run id can name another run after a database is recreated.
_tallies: OrderedDict[tuple[int, dt.datetime], _Tally] = OrderedDict()
_lock = threading.Lock()


# Built once, values as parameters: SQLAlchemy memoizes a statement's cache key on the statement object.
_PREVIOUS_SUCCESSFUL = (
    select(Run.id, Run.started_at, Run.finished_at)
    .where(
        Run.environment_id == bindparam("environment_id"),
        is_successful(),
        Run.id < bindparam("run_id"),
    )
    .order_by(Run.id.desc())
    .limit(1)
)
# A run's recap, each host's line as the API lists it (the run page reads it too, webui.queries).
HOST_SUMMARIES = (
    select(*(getattr(RunHostSummary, column) for column in HOST_SUMMARY_FIELDS))
    .where(RunHostSummary.run_id == bindparam("run_id"))
    .order_by(RunHostSummary.host)
)


def previous_successful(session: Executor, run: Run | RunFacts) -> Baseline:
    previous = session.execute(_PREVIOUS_SUCCESSFUL, {"environment_id": run.environment_id, "run_id": run.id}).first()
    if previous is None:
        return Baseline()
    run_id, started, finished = previous
    duration = (finished - started).total_seconds() if started and finished else None
    return Baseline(run_id=run_id, duration_seconds=duration, tasks_per_host=_recap(session, run_id))


def count_task_results(session: Executor, run_id: int, after: int, max_rows: int) -> tuple[int, Counter[str]]:
    """Task results per host among at most ``max_rows`` events after ``after``; returns the last counter read."""
    counts: Counter[str] = Counter()
    while max_rows > 0:
        limit = min(ROWS_PER_QUERY, max_rows)
        window = (
            select(RunEvent.counter, RunEvent.event, RunEvent.host)
            .where(RunEvent.run_id == run_id, RunEvent.counter > after)
            .order_by(RunEvent.counter)
            .limit(limit)
            .subquery()
        )
        rows = session.execute(
            select(
                func.max(window.c.counter),
                func.count(),
                window.c.host,
                window.c.event.in_(TASK_RESULT_EVENTS),
            ).group_by(window.c.host, window.c.event.in_(TASK_RESULT_EVENTS))
        ).all()
        if not rows:
            break
        read = sum(count for _, count, _, _ in rows)
        for _, count, host, is_result in rows:
            if is_result and host:
                counts[host] += count
        after = max(last for last, _, _, _ in rows)
        max_rows -= read
        if read < limit:
            break
    return after, counts


def tasks_done(session: Executor, run: Run | RunFacts) -> tuple[dict[str, int], int]:
    """Task results per host so far and the last event counter counted (less than the newest event's
    counter when more than ``MAX_ROWS_PER_CALL`` new events were waiting: the next call goes on)."""
    key = (run.id, run.queued_at)
    with _lock:
        known = _tallies.get(key)
        start = known.counted_through if known else 0
    last, counts = count_task_results(session, run.id, start, MAX_ROWS_PER_CALL)
    with _lock:
        tally = _tallies.setdefault(key, _Tally())
        # Only extend a tally from where this count began: another thread may have moved it on
        # meanwhile, or it was dropped (then it is counted again from the start next time).
        if tally.counted_through == start:
            tally.counted_through = last
            tally.per_host.update(counts)
        _tallies.move_to_end(key)
        while len(_tallies) > TALLIES_KEPT:
            _tallies.popitem(last=False)
        return dict(tally.per_host), tally.counted_through


def _tasks_in_recap(summaries: Iterable[Any]) -> dict[str, int]:
    """Tasks per host from a run's recap (ansible's play recap, stored when the run ended)."""
    return {s.host: s.ok + s.failed + s.skipped + s.unreachable for s in summaries}


def _recap(session: Executor, run_id: int) -> dict[str, int]:
    return _tasks_in_recap(session.execute(HOST_SUMMARIES, {"run_id": run_id}))


def run_progress(session: Executor, run: Run | RunFacts, now: dt.datetime | None = None) -> dict[str, Any]:
    """The JSON shape of ``GET /api/v1/runs/<id>/progress``."""
    baseline = previous_successful(session, run)
    # An ended run's recap says what its events would, without reading them (200,000 events: seconds).
    # It is the run's host summaries, which its caller has read already.
    recap = _tasks_in_recap(run.host_summaries) if is_terminal(run.state) else None
    done, counted_through = (recap, run.event_count) if recap else tasks_done(session, run)
    hosts = sorted(set(done) | set(baseline.tasks_per_host))
    per_host = [
        {"host": host, "done": done.get(host, 0), "expected": baseline.tasks_per_host.get(host)} for host in hosts
    ]
    total_done = sum(done.values())
    expected = sum(baseline.tasks_per_host.values()) or None
    eta = None
    if baseline.duration_seconds is not None and run.started_at is not None and not is_terminal(run.state):
        elapsed = ((now or utcnow()) - run.started_at).total_seconds()
        eta = max(0.0, baseline.duration_seconds - elapsed)
    return {
        "run_id": run.id,
        "state": run.state,
        "terminal": is_terminal(run.state),
        "done": total_done,
        "expected": expected,
        "percent": _percent(run.state, total_done, expected),
        "hosts": per_host,
        "previous_run_id": baseline.run_id,
        "previous_duration_seconds": baseline.duration_seconds,
        "eta_seconds": eta,
        "counted_through": counted_through,
    }


def _percent(state: str, done: int, expected: int | None) -> int | None:
    if state == RunState.SUCCESSFUL:
        return 100
    if not expected:
        return None
    # Below 100 until it succeeds: this run may simply do more than the last one did.
    return min(99, 100 * done // expected)
