"""How far a run has got: work done per host, of what the most similar earlier successful run did, and
one estimate of the time left.

Work is counted in task results per host *and* loop items (a loop of 200 items is 200 steps, not one:
counting tasks alone showed "90 %" for most of a run whose last task looped). Expected work comes from
the most recent successful run of the same environment with the same limit, tags and check mode (the
same work, issue 23; another limit or tags do other work): the same count over its events, read once
per process and kept, and its duration. Without one, the progress says so and has no percent. The
percent and the time left come from the same fraction of that run's work, so they never disagree.
Done work is the same count among the run's own events. A run can have hundreds of thousands of
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
from playdeck.models import Run, RunEvent, RunHostSummary
from playdeck.runs.conditions import is_successful
from playdeck.runs.states import RunState, is_terminal
from playdeck.serializers import HOST_SUMMARY_FIELDS

# ansible-runner's events for one task finished on one host (the recap counts the same outcomes), and
# for one loop item finished on one host.
TASK_RESULT_EVENTS = (
    "runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable",
    "runner_item_on_ok", "runner_item_on_failed", "runner_item_on_skipped",
)  # fmt: skip
# What the progress says when no earlier run did the same work.
NO_BASELINE = "no earlier successful run with the same limit, tags and check mode to compare"
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
    limit: str
    tags_json: str
    check_mode: bool
    host_summaries: Sequence[Any]


@dataclass
class Baseline:
    """What the most similar earlier successful run did (see the module's docstring)."""

    run_id: int | None = None
    duration_seconds: float | None = None
    tasks_per_host: dict[str, int] = field(default_factory=dict)


@dataclass
class _Tally:
    counted_through: int = 0
    per_host: Counter[str] = field(default_factory=Counter)


# Keyed by run id and queue time: a run id can name another run after a database is recreated.
_tallies: OrderedDict[tuple[int, dt.datetime], _Tally] = OrderedDict()
# The work of ended runs used as baselines, by the same key.
_ended: OrderedDict[tuple[int, dt.datetime], dict[str, int]] = OrderedDict()
_lock = threading.Lock()


# Built once, values as parameters: SQLAlchemy memoizes a statement's cache key on the statement object.
_MOST_SIMILAR = (
    select(Run.id, Run.started_at, Run.finished_at, Run.queued_at)
    .where(
        Run.environment_id == bindparam("environment_id"),
        is_successful(),
        Run.id < bindparam("run_id"),
        Run.limit == bindparam("limit"),
        Run.tags_json == bindparam("tags_json"),
        Run.check_mode == bindparam("check_mode"),
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


def most_similar_successful(session: Executor, run: Run | RunFacts) -> Baseline:
    """The newest earlier successful run of the environment with the same limit, tags and check mode."""
    values = {"environment_id": run.environment_id, "run_id": run.id, "limit": run.limit,
              "tags_json": run.tags_json, "check_mode": run.check_mode}  # fmt: skip
    previous = session.execute(_MOST_SIMILAR, values).first()
    if previous is None:
        return Baseline()
    run_id, started, finished, queued = previous
    duration = (finished - started).total_seconds() if started and finished else None
    return Baseline(run_id=run_id, duration_seconds=duration, tasks_per_host=_work_of_ended(session, run_id, queued))


def _work_of_ended(session: Executor, run_id: int, queued_at: dt.datetime) -> dict[str, int]:
    """Task results and loop items per host of an ended run: counted once, then kept (it never changes)."""
    key = (run_id, queued_at)
    with _lock:
        known = _ended.get(key)
    if known is None:
        known = dict(count_task_results(session, run_id, 0, MAX_ROWS_PER_CALL)[1])
        with _lock:
            _ended[key] = known
            while len(_ended) > TALLIES_KEPT:
                _ended.popitem(last=False)
    return known


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


def run_progress(session: Executor, run: Run | RunFacts) -> dict[str, Any]:
    """The JSON shape of ``GET /api/v1/runs/<id>/progress``."""
    baseline = most_similar_successful(session, run)
    ended = is_terminal(run.state)
    if ended:
        # An ended run's recap says what its events would, without reading them (200,000 events:
        # seconds); the caller has read it already. Loop items are left out on both sides then.
        done, counted_through = _tasks_in_recap(run.host_summaries), run.event_count
        expected_per_host = _recap(session, baseline.run_id) if baseline.run_id else {}
    else:
        done, counted_through = tasks_done(session, run)
        expected_per_host = baseline.tasks_per_host
    hosts = sorted(set(done) | set(expected_per_host))
    per_host = [{"host": host, "done": done.get(host, 0), "expected": expected_per_host.get(host)} for host in hosts]
    total_done = sum(done.values())
    expected = sum(expected_per_host.values()) or None
    return {
        "run_id": run.id,
        "state": run.state,
        "terminal": ended,
        "done": total_done,
        "expected": expected,
        "percent": _percent(run.state, total_done, expected),
        "hosts": per_host,
        "previous_run_id": baseline.run_id,
        "previous_duration_seconds": baseline.duration_seconds,
        "baseline_note": None if baseline.run_id else NO_BASELINE,
        "eta_seconds": None if ended else _time_left(baseline, total_done, expected),
        "counted_through": counted_through,
    }


def _time_left(baseline: Baseline, done: int, expected: int | None) -> float | None:
    """The baseline's duration times the share of its work still to do: the same fraction as the
    percent, so the two cannot disagree. None without a baseline, or once this run has done more work
    than the baseline did (it is doing something else; no honest number)."""
    if baseline.duration_seconds is None or not expected or done > expected:
        return None
    return baseline.duration_seconds * (expected - done) / expected


def _percent(state: str, done: int, expected: int | None) -> int | None:
    if state == RunState.SUCCESSFUL:
        return 100
    if not expected:
        return None
    # Below 100 until it succeeds: this run may simply do more than the last one did.
    return min(99, 100 * done // expected)
