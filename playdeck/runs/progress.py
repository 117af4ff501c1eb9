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
import functools
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, func, select, union_all
from sqlalchemy.orm import aliased

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


def _most_similar_query() -> Select[Any]:
    """Per run of ``run_ids``: its id, then the most similar earlier successful run's id, start, end and
    queue time (runs without one are left out): a ``LIMIT 1`` subquery per run, one statement for all."""
    earlier, similar = aliased(Run), aliased(Run)
    similar_id = (
        select(earlier.id)
        .where(
            earlier.environment_id == Run.environment_id,
            is_successful(earlier),
            earlier.id < Run.id,
            earlier.limit == Run.limit,
            earlier.tags_json == Run.tags_json,
            earlier.check_mode == Run.check_mode,
        )
        .order_by(earlier.id.desc())
        .limit(1)
        .correlate(Run)
        .scalar_subquery()
    )
    return (
        select(Run.id, similar.id, similar.started_at, similar.finished_at, similar.queued_at)
        .join(similar, similar.id == similar_id)
        .where(Run.id.in_(bindparam("run_ids", expanding=True)))
    )


# Built once, values as parameters: SQLAlchemy memoizes a statement's cache key on the statement object.
_MOST_SIMILAR = _most_similar_query()
# A run's recap, each host's line as the API lists it (the run page reads it too, webui.queries).
HOST_SUMMARIES = (
    select(*(getattr(RunHostSummary, column) for column in HOST_SUMMARY_FIELDS))
    .where(RunHostSummary.run_id == bindparam("run_id"))
    .order_by(RunHostSummary.host)
)


def most_similar_successful(session: Executor, runs: Sequence[Run | RunFacts]) -> dict[int, Baseline]:
    """Per run: the newest earlier successful run of its environment with the same limit, tags and check
    mode (an empty ``Baseline`` if none), with the work it did."""
    found = {run.id: Baseline() for run in runs}
    rows = session.execute(_MOST_SIMILAR, {"run_ids": list(found)}).all()
    work = _work_of_ended(session, {previous: queued for _, previous, _, _, queued in rows})
    for run_id, previous, started, finished, _ in rows:
        duration = (finished - started).total_seconds() if started and finished else None
        found[run_id] = Baseline(run_id=previous, duration_seconds=duration, tasks_per_host=work[previous])
    return found


def _work_of_ended(session: Executor, runs: dict[int, dt.datetime]) -> dict[int, dict[str, int]]:
    """Task results and loop items per host of ended runs (id → queue time): counted once, then kept (it
    never changes)."""
    with _lock:
        known = {run_id: _ended.get((run_id, queued)) for run_id, queued in runs.items()}
    missing = [run_id for run_id, work in known.items() if work is None]
    if missing:
        counted = count_task_results(session, dict.fromkeys(missing, 0), MAX_ROWS_PER_CALL)
        with _lock:
            for run_id in missing:
                known[run_id] = _ended[(run_id, runs[run_id])] = dict(counted[run_id][1])
            while len(_ended) > TALLIES_KEPT:
                _ended.popitem(last=False)
    return {run_id: work or {} for run_id, work in known.items()}


@functools.lru_cache(maxsize=64)
def _windows_query(count: int) -> Select[Any]:
    """Task results per run (``run_I`` after counter ``after_I``, for I below ``count``) and host: among the
    first ``ROWS_PER_QUERY`` events of each, their number and the last counter read. One statement for
    the runs of a page (the dashboard's active runs), each run's read bounded by its own ``LIMIT``."""
    windows = [
        select(RunEvent.run_id, RunEvent.counter, RunEvent.event, RunEvent.host)
        .where(RunEvent.run_id == bindparam(f"run_{index}"), RunEvent.counter > bindparam(f"after_{index}"))
        .order_by(RunEvent.counter)
        .limit(ROWS_PER_QUERY)
        .subquery()
        for index in range(count)
    ]
    read = union_all(*(select(window) for window in windows)).subquery()
    is_result = read.c.event.in_(TASK_RESULT_EVENTS)
    return select(read.c.run_id, func.max(read.c.counter), func.count(), read.c.host, is_result).group_by(
        read.c.run_id, read.c.host, is_result
    )


def count_task_results(session: Executor, starts: dict[int, int], max_rows: int) -> dict[int, tuple[int, Counter[str]]]:
    """Per run (id → the counter to count after): task results per host among at most ``max_rows`` of its
    events after that counter, and the last counter read."""
    found: dict[int, tuple[int, Counter[str]]] = {run_id: (after, Counter()) for run_id, after in starts.items()}
    pending, rounds = list(starts), 0
    while pending and rounds * ROWS_PER_QUERY < max_rows:
        values = {f"run_{index}": run_id for index, run_id in enumerate(pending)}
        values |= {f"after_{index}": found[run_id][0] for index, run_id in enumerate(pending)}
        read: Counter[int] = Counter()
        for run_id, last, count, host, is_result in session.execute(_windows_query(len(pending)), values):
            read[run_id] += count
            counts = found[run_id][1]
            if is_result and host:
                counts[host] += count
            found[run_id] = (max(found[run_id][0], last), counts)
        # A run whose window was full may have more events waiting.
        pending, rounds = [run_id for run_id in pending if read[run_id] == ROWS_PER_QUERY], rounds + 1
    return found


def tasks_done(session: Executor, runs: Sequence[Run | RunFacts]) -> dict[int, tuple[dict[str, int], int]]:
    """Per run: task results per host so far and the last event counter counted (less than the newest
    event's counter when more than ``MAX_ROWS_PER_CALL`` new events were waiting: the next call goes on)."""
    keys = {run.id: (run.id, run.queued_at) for run in runs}
    with _lock:
        starts = {run_id: _tallies[key].counted_through if key in _tallies else 0 for run_id, key in keys.items()}
    counted = count_task_results(session, starts, MAX_ROWS_PER_CALL)
    found = {}
    with _lock:
        for run_id, key in keys.items():
            tally = _tallies.setdefault(key, _Tally())
            # Only extend a tally from where this count began: another thread may have moved it on
            # meanwhile, or it was dropped (then it is counted again from the start next time).
            if tally.counted_through == starts[run_id]:
                tally.counted_through, counts = counted[run_id]
                tally.per_host.update(counts)
            _tallies.move_to_end(key)
            found[run_id] = dict(tally.per_host), tally.counted_through
        while len(_tallies) > TALLIES_KEPT:
            _tallies.popitem(last=False)
    return found


def _tasks_in_recap(summaries: Iterable[Any]) -> dict[str, int]:
    """Tasks per host from a run's recap (ansible's play recap, stored when the run ended)."""
    return {s.host: s.ok + s.failed + s.skipped + s.unreachable for s in summaries}


def _recap(session: Executor, run_id: int) -> dict[str, int]:
    return _tasks_in_recap(session.execute(HOST_SUMMARIES, {"run_id": run_id}))


def run_progress(session: Executor, run: Run | RunFacts) -> dict[str, Any]:
    """The JSON shape of ``GET /api/v1/runs/<id>/progress``."""
    return runs_progress(session, [run])[0]


def runs_progress(session: Executor, runs: Sequence[Run | RunFacts]) -> list[dict[str, Any]]:
    """``run_progress`` of each run. The baselines of all are read in one statement, the new events of
    those yet to end in another, whatever their number (the dashboard shows its active runs'); an
    ended run's expected work is its baseline's recap, a statement each."""
    baselines = most_similar_successful(session, runs)
    active = [run for run in runs if not is_terminal(run.state)]
    tallies = tasks_done(session, active) if active else {}
    return [_progress(session, run, baselines[run.id], tallies.get(run.id)) for run in runs]


def _progress(
    session: Executor, run: Run | RunFacts, baseline: Baseline, tally: tuple[dict[str, int], int] | None
) -> dict[str, Any]:
    ended = tally is None
    if tally is None:
        # An ended run's recap says what its events would, without reading them (200,000 events:
        # seconds); the caller has read it already. Loop items are left out on both sides then.
        done, counted_through = _tasks_in_recap(run.host_summaries), run.event_count
        expected_per_host = _recap(session, baseline.run_id) if baseline.run_id else {}
    else:
        done, counted_through = tally
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
