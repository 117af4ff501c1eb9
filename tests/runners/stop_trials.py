"""Stops at random moments, many of them, on a busy machine: the driver behind the stop stress tests.

A trial is one real run of ``stop_points.yml`` on 3 local hosts that must end stopped: canceled at a
random point (after N of its events, N from "just claimed" to "last task started", plus a random fraction
of a second so that stops also land between events), or by a run timeout or an idle timeout of a random
number of seconds. Every run must end in its true state within 10 s of its stop, with no process left.
The driver waits on the runs' states and event counts, never on a sleep's ordering.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import func, select

from playdeck import db, projects
from playdeck.errors import Conflict
from playdeck.models import Run, RunEvent
from playdeck.runs.requests import RunRequest
from playdeck.runs.transitions import request_cancel
from runners import orphans, processes
from tests.conftest import TERMINAL, queue_run

PROJECT = "stoppable"
# Events before the last task's processes start: playbook and play start, 3 tasks x 7, the loop's 16, and
# the last task's start on 3 hosts (counted from a run of stop_points.yml).
EVENTS_BEFORE_LAST_TASK = 43
# A cancel point not reached because the run went quiet (its last task) is taken after this much quiet.
QUIET_SECONDS = 3.0
STOP_BOUND_SECONDS = 10.0
POLL_SECONDS = 0.05


# An environment holds one deploy at a time (its deploy lock): runs spread over these run side by side, so
# stops also land while other runs start and end.
ENVIRONMENTS = ("e1", "e2", "e3", "e4")


def add_project() -> None:
    with db.session_scope() as session:
        projects.add_project(session, PROJECT, "stop_points.yml", dict.fromkeys(ENVIRONMENTS, "local3.ini"))


@dataclass
class Trial:
    """One run and how it is to be stopped: ``kind`` is "cancel", "timeout" or "idle"."""

    kind: str
    rng: random.Random = field(repr=False)
    run_id: int = 0
    point: int = 0  # cancel after this many events
    jitter: float = 0.0  # ... and this much later
    seconds: int = 0  # the run's timeout or idle timeout
    cancel_at: float | None = None  # monotonic time the cancel is due
    canceled: bool = False
    events: int = -1
    events_changed: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.kind == "cancel":
            self.point = self.rng.randint(0, EVENTS_BEFORE_LAST_TASK)
            self.jitter = self.rng.choice((0.0, self.rng.uniform(0, 0.5)))
        elif self.kind == "timeout":
            self.seconds = self.rng.randint(1, 10)
        else:
            self.seconds = self.rng.randint(1, 5)

    def submit(self, environment: str) -> None:
        request = RunRequest(
            project=PROJECT,
            environment=environment,
            requested_by="stress",
            timeout=self.seconds if self.kind == "timeout" else None,
            idle_timeout=self.seconds if self.kind == "idle" else None,
        )
        self.run_id = queue_run(request).id

    def observe(self, state: str, events: int, now: float) -> None:
        """Called each poll while the run is not ended: schedules and sends the cancel when its point is reached."""
        if events != self.events:
            self.events, self.events_changed = events, now
        if self.kind != "cancel" or self.canceled or state != "running":
            return
        reached = events >= self.point or now - self.events_changed >= QUIET_SECONDS
        if reached and self.cancel_at is None:
            self.cancel_at = now + self.jitter
        if self.cancel_at is not None and now >= self.cancel_at:
            self.canceled = True
            try:
                with db.session_scope() as session:
                    request_cancel(session, self.run_id, "stress")
            except Conflict:
                pass  # ended first: the outcome check says whether that was right


@dataclass(frozen=True)
class Ending:
    state: str
    reason: str
    seconds_to_stop: float  # from the stop (cancel request, timeout, last output + idle timeout) to the end
    live_processes: list[int]


@contextmanager
def cpu_hog() -> Iterator[None]:
    """Keeps a core busy, as production workers are, while the trials run."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def run_trials(trials: list[Trial], timeout: float) -> dict[int, Ending]:
    """Submit every trial, stop each at its moment, and return how each run ended."""
    for number, trial in enumerate(trials):
        trial.submit(ENVIRONMENTS[number % len(ENVIRONMENTS)])
    by_id = {trial.run_id: trial for trial in trials}
    endings: dict[int, Ending] = {}
    deadline = time.monotonic() + timeout
    while len(endings) < len(trials):
        if time.monotonic() > deadline:
            pending = sorted(set(by_id) - set(endings))
            raise TimeoutError(f"runs {pending} not ended after {timeout} s")
        for run_id, state, events in _states(set(by_id) - set(endings)):
            if state in TERMINAL:
                endings[run_id] = _ending(by_id[run_id])
            else:
                by_id[run_id].observe(state, events, time.monotonic())
        time.sleep(POLL_SECONDS)
    return endings


def _states(run_ids: set[int]) -> list[tuple[int, str, int]]:
    with db.session_scope() as session:
        return [
            tuple(row) for row in session.execute(select(Run.id, Run.state, Run.event_count).where(Run.id.in_(run_ids)))
        ]


def _ending(trial: Trial) -> Ending:
    with db.session_scope() as session:
        run = session.get(Run, trial.run_id)
        last_event = session.scalar(select(func.max(RunEvent.created)).where(RunEvent.run_id == trial.run_id))
        return Ending(
            run.state, run.reason or "", _seconds_to_stop(trial, run, last_event), _live_processes(trial.run_id)
        )


def _seconds_to_stop(trial: Trial, run: Run, last_event: dt.datetime | None) -> float:
    if run.finished_at is None:
        return float("inf")
    if trial.kind == "cancel":
        stop = run.cancel_requested_at
    elif trial.kind == "timeout":
        # From the claim, so the run's preparation counts against the bound too.
        stop = run.started_at + dt.timedelta(seconds=trial.seconds)
    else:
        stop = max(filter(None, (last_event, run.started_at))) + dt.timedelta(seconds=trial.seconds)
    if stop is None:
        return float("inf")
    return (run.finished_at - stop).total_seconds()


def _live_processes(run_id: int) -> list[int]:
    return [proc.pid for proc in orphans.run_processes().get(run_id, []) if processes.is_live(proc)]


def failures(trials: list[Trial], endings: dict[int, Ending], states: set[str]) -> list[str]:
    """Each run that did not end in one of ``states`` within the bound with no process left, described."""
    found = []
    for trial in trials:
        end = endings[trial.run_id]
        if end.state not in states or end.seconds_to_stop > STOP_BOUND_SECONDS or end.live_processes:
            found.append(f"run {trial.run_id} ({trial}): {end}")
    return found
