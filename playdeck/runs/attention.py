"""Why an active run is where it is, and which active runs need a person ("needs attention").

``state_explanation`` says, for any queued or running run, why it is in that state right now, so no run
sits in ``queued`` or ``running`` without the UI saying why. ``needs_attention`` lists the runs stuck
longer than expected, each with the one reason a person should act on first.

Queries stay bounded: only active runs are read (``ix_runs_state``), the deploy locks (at most one per
environment) in one query, the running count per queue in one grouped query, and for running runs one
query per project environment of at most ``HISTORY_RUNS`` past runs.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from playdeck.db_clock import database_time
from playdeck.models import DeployLock, Run, RunEvent, utcnow
from playdeck.release_control.approvals import approvers_text, approvers_words
from playdeck.runs import locks
from playdeck.runs.conditions import is_successful
from playdeck.runs.queries import active_runs, awaiting_approval, awaiting_count
from playdeck.runs.states import RunState
from playdeck.serializers import run_json
from playdeck.settings import get_settings

# A worker claims a dispatched run within a second or two; after half a minute nothing is taking it,
# while a run just submitted is not reported before a worker had its chance.
QUEUED_GRACE_SECONDS = 30
# One late heartbeat is a busy database or a paused process; three missed in a row are not a blip.
STALE_HEARTBEAT_BEATS = 3
# ... and never less than this, so a short heartbeat interval (tests, development) does not turn a
# garbage-collection pause into an alarm.
STALE_HEARTBEAT_MIN_SECONDS = 30
# Durations of one playbook vary run to run; twice the usual is clearly unusual without flagging every
# slow run.
OVERRUN_FACTOR = 2
# A deploy that usually takes seconds varies by more than 2x from noise alone; under a minute nobody
# needs to look.
OVERRUN_MIN_SECONDS = 60
# Fewer past runs than this say nothing about a "usual" duration.
HISTORY_MIN_RUNS = 3
# Recent runs describe the playbook as it is now; older ones may describe a different playbook.
HISTORY_RUNS = 20
# A worker reads a cancel within control_poll_seconds and kills the run's processes after
# stop_grace_seconds (1 s + 3 s by default); 15 s is well past both.
CANCEL_GRACE_SECONDS = 15
# More stuck runs than this is one problem (no workers, say), not a list to read; the oldest are shown.
MAX_ACTIVE_SCANNED = 1000
# Runs awaiting approval listed, the nearest deadline first: thousands may wait, a person acts on the first.
MAX_AWAITING_SHOWN = 20
# How many await approval in all is counted exactly, on every request, up to this many (a count reads an index
# entry per run); past it the exact number is counted at most every AWAITING_RECOUNT_SECONDS in a process, the
# period the pages' live mark is read at (webui.live): "10,412 runs await approval" may be 2 s old.
AWAITING_COUNTED = 1000
AWAITING_RECOUNT_SECONDS = 2.0


class Kind(StrEnum):
    """What is wrong, most urgent first: the list is sorted in this order."""

    HEARTBEAT_STALE = "heartbeat_stale"
    CANCEL_PENDING = "cancel_pending"
    NO_OUTPUT = "no_output"
    NO_WORKER = "no_worker"
    OVERDUE = "overdue"
    WORKERS_BUSY = "workers_busy"
    WAITING_FOR_LOCK = "waiting_for_lock"
    # Not stuck: waiting for the people its environment names (who must act is in ``why``).
    AWAITING_APPROVAL = "awaiting_approval"


_PRIORITY = {kind: rank for rank, kind in enumerate(Kind)}


@dataclass(frozen=True)
class Attention:
    run: dict[str, Any]
    kind: Kind
    why: str
    # How long the run has been in its current state (queued: since queued; running: since started).
    age_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "kind": self.kind.value, "why": self.why, "age_seconds": self.age_seconds}


def words(seconds: float) -> str:
    """A span as a person reads it: "45 s", "3 min 05 s", "2 h 10 min", "3 d 4 h"."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _seconds(now: dt.datetime, then: dt.datetime) -> float:
    return (now - then).total_seconds()


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _Facts:
    """What the rules need beyond the run itself. ``needs_attention`` fills locks and running counts
    with one query each for all runs; for a single run (``state_explanation``) they are read lazily."""

    def __init__(
        self,
        session: Session,
        now: dt.datetime | None,
        held: dict[tuple[int, int], int] | None = None,
        running: dict[str, int] | None = None,
        outputs: dict[int, dt.datetime] | None = None,
    ) -> None:
        self.session = session
        # Running runs' newest log lines (None: read per run, for a single run).
        self._outputs = outputs
        self.now = now or utcnow()
        # Heartbeats are written with the database's clock (playdeck.db_clock) and judged with it.
        self.beat_now = now or database_time(session)
        self._held = held
        self._running = running if running is not None else {}
        self._lazy_running = running is None
        self._usual: dict[tuple[int, int, str], float | None] = {}
        self.stale_after = max(STALE_HEARTBEAT_BEATS * get_settings().heartbeat_seconds, STALE_HEARTBEAT_MIN_SECONDS)

    def lock_holder(self, run: Run) -> int | None:
        """The other run holding the deploy lock this run needs, if any."""
        # The same condition as locks.acquire: other runs never wait for the lock.
        if not run.project.lock_deploys:
            return None
        if self._held is None:
            holder = locks.holder(self.session, run.project_id, run.environment_id)
        else:
            holder = self._held.get((run.project_id, run.environment_id))
        return None if holder == run.id else holder

    def last_output(self, run_id: int) -> dt.datetime | None:
        return None if self._outputs is None else self._outputs.get(run_id)

    def running_on(self, queue: str) -> int:
        if self._lazy_running and queue not in self._running:
            self._running[queue] = (
                self.session.scalar(
                    select(func.count()).select_from(Run).where(Run.state == RunState.RUNNING.value, Run.queue == queue)
                )
                or 0
            )
        return self._running.get(queue, 0)

    def usual_seconds(self, run: Run) -> float | None:
        """Median duration of the last successful runs of the same project environment and kind."""
        key = (run.project_id, run.environment_id, run.kind)
        if key not in self._usual:
            rows = self.session.execute(
                select(Run.started_at, Run.finished_at)
                .where(
                    Run.project_id == run.project_id,
                    is_successful(),
                    Run.environment_id == run.environment_id,
                    Run.kind == run.kind,
                    Run.started_at.is_not(None),
                    Run.finished_at.is_not(None),
                )
                # By id, newest first: ix_runs_project_state holds the id, so the scan stops early.
                .order_by(Run.id.desc())
                .limit(HISTORY_RUNS)
            ).all()
            durations = [_seconds(row.finished_at, row.started_at) for row in rows]
            self._usual[key] = statistics.median(durations) if len(durations) >= HISTORY_MIN_RUNS else None
        return self._usual[key]


@dataclass(frozen=True)
class Silence:
    """How long a running run has printed nothing, and when that is worth saying (``notice_after``)."""

    seconds: float
    notice_after: float
    idle_timeout: int | None

    @property
    def noticed(self) -> bool:
        return self.seconds >= self.notice_after

    def text(self) -> str:
        stops = f"; its idle timeout stops it after {words(self.idle_timeout)}" if self.idle_timeout else ""
        return f"no output for {words(self.seconds)}{stops}"


def silence(
    session: Session, run: Run, now: dt.datetime | None = None, last_output: dt.datetime | None = None
) -> Silence | None:
    """Since the run's last log line (or its start); None unless it is running. ``last_output``: the newest
    line's time when the caller read it already (``newest_outputs``), else one indexed read of it."""
    if run.state != RunState.RUNNING:
        return None
    if last_output is None:
        last_output = newest_outputs(session, [run.id]).get(run.id)
    since = last_output or run.started_at or run.queued_at
    idle = run.idle_timeout_seconds or run.project.idle_timeout_seconds or None
    notice = get_settings().silence_notice_seconds
    if idle:
        notice = min(notice, idle / 2)
    return Silence(max(0.0, _seconds(now or utcnow(), since)), notice, idle)


def newest_outputs(session: Session, run_ids: list[int]) -> dict[int, dt.datetime]:
    """Each run's newest log line's time, in one statement: a run's newest event is the last entry of its
    (run, counter) key, found by MAX(counter) per run."""
    if not run_ids:
        return {}
    newest = (
        select(RunEvent.run_id, func.max(RunEvent.counter).label("counter"))
        .where(RunEvent.run_id.in_(run_ids))
        .group_by(RunEvent.run_id)
        .subquery()
    )
    rows = session.execute(
        select(RunEvent.run_id, RunEvent.created).join(
            newest, (RunEvent.run_id == newest.c.run_id) & (RunEvent.counter == newest.c.counter)
        )
    )
    return dict(rows.all())


def _lock_text(holder: int, run: Run) -> str:
    return f"waiting for run #{holder}, which holds the {run.environment.name} deploy lock"


def _queued_problem(run: Run, facts: _Facts, waited: float) -> tuple[Kind, str]:
    holder = facts.lock_holder(run)
    if holder is not None:
        return Kind.WAITING_FOR_LOCK, _lock_text(holder, run)
    busy = facts.running_on(run.queue)
    if busy:
        return Kind.WORKERS_BUSY, f"all workers of queue '{run.queue}' are busy ({_plural(busy, 'run')} running)"
    return Kind.NO_WORKER, f"no worker has taken it for {words(waited)}: is a worker consuming queue '{run.queue}'?"


def _last_sign_of_life(run: Run) -> dt.datetime:
    return run.heartbeat_at or run.started_at or run.in_queue_since


def _assess(run: Run, facts: _Facts) -> Attention | None:
    """The most urgent reason this active run needs a person, or None if it is fine."""
    now = facts.now
    if run.state == RunState.QUEUED:
        waited = _seconds(now, run.in_queue_since)
        if waited < QUEUED_GRACE_SECONDS:
            return None
        kind, why = _queued_problem(run, facts, waited)
        return Attention(run_json(run, with_summaries=False), kind, why, waited)
    if run.state != RunState.RUNNING:
        return None
    running_for = _seconds(now, run.started_at or run.queued_at)
    found: tuple[Kind, str] | None = None
    silent = _seconds(facts.beat_now, _last_sign_of_life(run))
    if silent >= facts.stale_after:
        found = (
            Kind.HEARTBEAT_STALE,
            f"no heartbeat from worker {run.worker_host or '(unknown)'} for {words(silent)}: the worker may be "
            "gone (a release manager can force-cancel it)",
        )
    elif run.cancel_requested_at is not None and _seconds(now, run.cancel_requested_at) >= CANCEL_GRACE_SECONDS:
        found = (
            Kind.CANCEL_PENDING,
            f"cancel requested {words(_seconds(now, run.cancel_requested_at))} ago and not done yet "
            "(force-cancel records it at once if its worker is gone)",
        )
    elif (quiet := silence(facts.session, run, now, facts.last_output(run.id))) is not None and quiet.noticed:
        found = (Kind.NO_OUTPUT, quiet.text())
    else:
        usual = facts.usual_seconds(run)
        if usual is not None and running_for > max(usual * OVERRUN_FACTOR, OVERRUN_MIN_SECONDS):
            found = (Kind.OVERDUE, f"running for {words(running_for)}, usually {words(usual)}")
    if found is None:
        return None
    return Attention(run_json(run, with_summaries=False), found[0], found[1], running_for)


def _awaiting_text(
    required: int, given: int, expires_at: dt.datetime | None, requested_by: str, approvers: str, now: dt.datetime
) -> str:
    missing = max(1, required - given)
    left = _seconds(expires_at, now) if expires_at else 0
    return (
        f"needs {_plural(missing, 'more approval')} from {approvers} (not {requested_by}, who requested it); "
        f"expires in {words(left)}"
    )


class AwaitingTotal:
    """How many runs await approval in all, once more than ``AWAITING_COUNTED`` do: counted again when the
    last count is ``recount`` seconds old by ``clock`` (tests give a clock of their own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, recount: float = AWAITING_RECOUNT_SECONDS) -> None:
        self.clock = clock
        self.recount = recount
        # (database, when counted, count): one tuple replaced at once, threads of a process share it.
        self._last: tuple[str, float, int] | None = None

    def __call__(self, session: Session) -> int:
        database, now, last = get_settings().database_url, self.clock(), self._last
        if last is not None and last[0] == database and now - last[1] < self.recount:
            return last[2]
        count = awaiting_count(session)
        self._last = (database, now, count)
        return count


awaiting_total = AwaitingTotal()


def awaiting_attention(session: Session, now: dt.datetime | None = None) -> tuple[list[Attention], int]:
    """Runs awaiting approval, the nearest deadline first (at most ``MAX_AWAITING_SHOWN``), with who must act;
    and how many await approval in all (``AWAITING_COUNTED``)."""
    now = now or utcnow()
    rows = awaiting_approval(session, MAX_AWAITING_SHOWN, AWAITING_COUNTED)
    # Most rows share an environment: its approvers are worded once.
    approvers: dict[tuple[str, str], str] = {}
    found = []
    for row in rows:
        key = (row.approver_roles_json or "[]", row.approver_users_json or "[]")
        if key not in approvers:
            approvers[key] = approvers_words(json.loads(key[0]), json.loads(key[1]))
        why = _awaiting_text(
            row.approvals_required, row.approvals_given, row.approval_expires_at, row.requested_by, approvers[key], now
        )
        found.append(Attention(json.loads(row[0]), Kind.AWAITING_APPROVAL, why, _seconds(now, row.queued_at)))
    counted = rows[0].awaiting_total if rows else 0
    return found, awaiting_total(session) if counted >= AWAITING_COUNTED else counted


def attention_overview(session: Session, now: dt.datetime | None = None) -> tuple[list[Attention], int]:
    """``needs_attention``, and how many runs await approval in all (it lists the first ``MAX_AWAITING_SHOWN``)."""
    awaiting, total = awaiting_attention(session, now)
    return _stuck(session, now) + awaiting, total


def needs_attention(session: Session, now: dt.datetime | None = None) -> list[Attention]:
    """Active runs stuck longer than expected, most urgent kind first, then oldest first; then the runs
    awaiting approval."""
    return attention_overview(session, now)[0]


def _stuck(session: Session, now: dt.datetime | None) -> list[Attention]:
    active = active_runs(session, MAX_ACTIVE_SCANNED)
    if not active:
        return []
    held = {(lock.project_id, lock.environment_id): lock.run_id for lock in session.scalars(select(DeployLock))}
    running = dict(
        session.execute(
            select(Run.queue, func.count()).where(Run.state == RunState.RUNNING.value).group_by(Run.queue)
        ).all()
    )
    outputs = newest_outputs(session, [run.id for run in active if run.state == RunState.RUNNING])
    facts = _Facts(session, now, held=held, running=running, outputs=outputs)
    found = [attention for run in active if (attention := _assess(run, facts)) is not None]
    found.sort(key=lambda attention: (_PRIORITY[attention.kind], attention.run["id"]))
    return found


def state_explanation(session: Session, run: Run, now: dt.datetime | None = None) -> str | None:
    """Why this run is in its state right now; None once it has ended."""
    facts = _Facts(session, now)
    now = facts.now
    if run.state == RunState.AWAITING_APPROVAL:
        why = _awaiting_text(
            run.approvals_required, run.approvals_given, run.approval_expires_at, run.requested_by,
            approvers_text(run.environment), now,
        )  # fmt: skip
        return f"awaiting approval ({run.approvals_given} of {run.approvals_required}): {why}"
    if run.state == RunState.QUEUED:
        # The earliest it can start; then a lock wait is the answer at any age; otherwise a young run is
        # simply waiting its turn.
        if run.not_before is not None and run.not_before > now:
            held = math.ceil(_seconds(run.not_before, now))
            return (
                f"held for {words(held)} more: runs of {run.environment.name} start spaced out, so the "
                "changes arriving meanwhile share this one"
            )
        holder = facts.lock_holder(run)
        if holder is not None:
            return _lock_text(holder, run)
        waited = _seconds(now, run.in_queue_since)
        if waited < QUEUED_GRACE_SECONDS:
            return f"queued for {words(waited)}, waiting for a worker on queue '{run.queue}'"
        return _queued_problem(run, facts, waited)[1]
    if run.state != RunState.RUNNING:
        return None
    problem = _assess(run, facts)
    if problem is not None and problem.kind == Kind.HEARTBEAT_STALE:
        return problem.why
    if run.heartbeat_at is None:
        usual = f"running on worker {run.worker_host or '(unknown)'}, no heartbeat yet"
    else:
        beat = words(_seconds(facts.beat_now, run.heartbeat_at))
        usual = f"running on worker {run.worker_host or '(unknown)'}, last heartbeat {beat} ago"
    return usual if problem is None else f"{usual}; {problem.why}"
