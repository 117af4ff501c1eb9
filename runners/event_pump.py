"""Moves a running playbook's events into the DB in batches, and keeps the run's heartbeat.

ansible-runner calls ``put`` on its own thread for every event; a background thread writes what has
accumulated every ``event_flush_seconds`` (or sooner once a batch is full) in its own short session,
so the log grows live and no connection is held between flushes. The same thread beats the
heartbeat and reads, every ``control_poll_seconds``, whether the run should stop (cancel requested, or
the run is no longer ours because the reaper or a release manager ended it).

Partitions: after a failed DB write the pump reads the run's state before writing anything else, and a run
found ``lost`` gets no more events (the reaper declared it lost while this worker was cut off). A worker
that has not written a heartbeat for ``partition_stop_seconds`` (below the reaper's ``lost_after_seconds``)
stops the playbook on its own: it is about to be declared lost, and a retry may start elsewhere. A DB server
that refuses connections is down for everyone (the reaper too): that is an outage, not a partition, and the
playbook goes on.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from playdeck.db import retry_while_unavailable, session_scope
from playdeck.runs import events, transitions
from playdeck.runs.host_outcomes import HostOutcomes
from playdeck.runs.states import RunState
from playdeck.settings import Settings

log = logging.getLogger(__name__)


FAILURE_EVENTS = ("runner_on_failed", "runner_on_unreachable")
FAILURE_CHARS = 2000


def describe_failure(data: dict[str, Any]) -> str:
    """Where a task failed and the module's own message (a checker's output, an error text)."""
    result = data.get("res") or {}
    message = result.get("msg") or result.get("stderr") or result.get("reason") or "failed"
    return f"{data.get('host', '?')}: {data.get('task', '?')}: {str(message).strip()}"[:FAILURE_CHARS]


def refused(exc: BaseException) -> bool:
    """True if the error chain holds a refused connection (PyMySQL keeps the socket error aside)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = getattr(seen, "orig", None) or getattr(seen, "original_exception", None) or seen.__cause__
    return False


class EventPump:
    def __init__(
        self,
        run_id: int,
        settings: Settings,
        on_stop: Callable[[], None] = lambda: None,
        redact: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.run_id = run_id
        self.settings = settings
        # Called once, on this pump's thread, when the run must stop (e.g. to signal its processes).
        self.on_stop = on_stop
        # Masks the run's known secrets in an event, in place (RunSecrets.redact_event).
        self.redact = redact
        self.stop_requested = threading.Event()
        self.stop_reason = ""
        self.stats: dict[str, Any] | None = None
        # The first task failure, in words ("host1: Validate zone: named-checkzone: ..."), for the reason.
        self.first_failure = ""
        # Per host: its recap as the events tell it, where it failed, the switch it reported.
        self.outcomes = HostOutcomes()
        self.persisted = 0
        self.playbook_pid: int | None = None
        self._pid_recorded = False
        self._pending: deque[dict[str, Any]] = deque()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._last_heartbeat = 0.0
        self._last_control = 0.0
        # When the last heartbeat that reached the DB was sent (the claim wrote the first one just now).
        self._last_contact = time.monotonic()
        # Set while a write may have failed: the run's state is read again before the next write.
        self._state_unknown = False
        # The run was declared lost: nothing more of it is written.
        self.disowned = False
        # The playbook was stopped because this worker could not reach the DB for partition_stop_seconds.
        self.out_of_contact = False
        self._thread = threading.Thread(target=self._loop, name=f"event-pump-{run_id}", daemon=True)

    # --- called by ansible-runner -----------------------------------------------------------------

    def put(self, event: dict[str, Any]) -> bool:
        """ansible-runner's ``event_handler``; returning True keeps its artifact copy of the event."""
        if "counter" not in event or event.get("event") == "keepalive":
            return False
        if self.redact is not None:
            # In place: ansible-runner writes this same dict as the event's artifact once we return.
            self.redact(event)
        data = event.get("event_data") or {}
        if self.playbook_pid is None and event.get("pid"):
            self.playbook_pid = int(event["pid"])
        if event.get("event") == "playbook_on_stats":
            self.stats = data
        elif event.get("event") in FAILURE_EVENTS and not data.get("ignore_errors") and not self.first_failure:
            self.first_failure = describe_failure(data)
        row = events.event_row(self.run_id, event)
        self.outcomes.add(row["counter"], row["event"], data)
        self._pending.append(row)
        if len(self._pending) >= self.settings.event_batch_size:
            self._wake.set()
        return True

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop the thread after a last flush of everything still pending. If the DB is down just as
        the playbook ends, the flush is retried (the events exist only in memory now) for up to
        ``db_outage_patience_seconds``."""
        self._closing.set()
        self._wake.set()
        self._thread.join()
        # A worker that froze (or lost the DB) may have had the run declared lost since its last poll.
        self._state_unknown = True
        retry_while_unavailable(self._flush_all, self.settings.db_outage_patience_seconds, f"run {self.run_id} events")

    # --- the background thread ----------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(self.settings.event_flush_seconds)
            self._wake.clear()
            try:
                self._flush_all()
                self._check_control_if_due()
            except SQLAlchemyError as exc:
                # The batch stays pending and is retried on the next pass: a DB blip delays events,
                # it does not lose them.
                log.exception("run %s: DB write failed; will retry", self.run_id)
                self._state_unknown = True
                if refused(exc):
                    # The DB's host answered: its server is down for everyone, the reaper included, and the
                    # outage patience applies. Only silence (a partition) stops the playbook.
                    self._last_contact = time.monotonic()
                self._stop_if_cut_off()
                time.sleep(min(1.0, self.settings.event_flush_seconds * 5))

    def _flush_all(self) -> None:
        if not self._may_write():
            return
        # Until every write below succeeded: a failure may hide a partition during which the run was lost.
        self._state_unknown = True
        self._flush_pending()
        self._state_unknown = False

    def _may_write(self) -> bool:
        """Learn the run's state first after a failed write; a lost run gets no more events."""
        if self._state_unknown and not self.disowned:
            self._check_control(beat=False)  # raises while the DB is still out of reach
            self._state_unknown = False
        if self.disowned and self._pending:
            log.warning("run %s was declared lost: dropping %d events", self.run_id, len(self._pending))
            self._pending.clear()
        return not self.disowned

    def _stop_if_cut_off(self) -> None:
        silent = time.monotonic() - self._last_contact
        if silent >= self.settings.partition_stop_seconds and not self.stop_requested.is_set():
            self.out_of_contact = True
            self.request_stop(
                f"worker {socket.gethostname()} could not reach the database for {silent:.0f} s and stopped the "
                f"playbook (a run without heartbeat for {self.settings.lost_after_seconds:.0f} s is declared lost)"
            )

    def _flush_pending(self) -> None:
        if self.playbook_pid is not None and not self._pid_recorded:
            # Lets a reaper find (and stop) the playbook's process group if this worker dies.
            with session_scope() as session:
                transitions.set_playbook_pid(session, self.run_id, self.playbook_pid)
            self._pid_recorded = True
        while self._pending:
            batch = [self._pending[i] for i in range(min(len(self._pending), self.settings.event_batch_size))]
            with session_scope() as session:
                self.persisted += events.store_events(session, self.run_id, batch)
            # Only drop what is now safely stored (put() may have appended meanwhile).
            for _ in batch:
                self._pending.popleft()

    def _check_control_if_due(self) -> None:
        """Read cancel requests often (a cheap SELECT), write the heartbeat less often."""
        now = time.monotonic()
        if now - self._last_control < self.settings.control_poll_seconds:
            return
        self._last_control = now
        beat = now - self._last_heartbeat >= self.settings.heartbeat_seconds
        if beat:
            self._last_heartbeat = now
        self._check_control(beat)

    def _check_control(self, beat: bool) -> None:
        sent = time.monotonic()
        with session_scope() as session:
            control = transitions.control(session, self.run_id, beat=beat)
        if beat:
            self._last_contact = sent
        if control.state == RunState.LOST:
            self.disowned = True
        if control.cancel_requested:
            self.request_stop("canceled on request")
        elif control.state != RunState.RUNNING:
            self.request_stop(f"run became '{control.state}' while executing")

    def request_stop(self, reason: str) -> None:
        if not self.stop_requested.is_set():
            log.info("run %s: stopping the playbook: %s", self.run_id, reason)
            self.stop_reason = reason
            self.on_stop()
            self.stop_requested.set()
