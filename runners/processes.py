"""Process-tree control for a run: every process the playbook started, in any session, is ours to stop.

ansible-playbook runs in its own session and each per-host task worker starts another one, so the
playbook's process group is not the whole tree; a worker orphaned by a cancel is re-parented to init
and keeps running. Making the executing process a child subreaper keeps those orphans as our
children, where ``psutil`` can find and stop them (measured: FIELD-NOTES, ansible-runner section).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

import psutil

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
# Walks for processes forked while the run's were being stopped.
LATE_PASSES = 5


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only); the flag is per process and not inherited across fork."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except OSError:
        log.warning("prctl(PR_SET_CHILD_SUBREAPER) unavailable; orphaned task workers may escape")
        return False


def descendant_pids() -> frozenset[int]:
    return frozenset(p.pid for p in descendants())


def descendants() -> list[psutil.Process]:
    try:
        return psutil.Process(os.getpid()).children(recursive=True)
    except psutil.Error:
        return []


def is_live(proc: psutil.Process) -> bool:
    """Whether ``proc`` still runs. A process of a run can exit, turn zombie or be reaped between the
    walk that listed it and this look (NoSuchProcess, ZombieProcess), or be unreadable (AccessDenied):
    each counts as not running, never as an error, so a stop in progress is never derailed by the very
    processes it is stopping (issue 19: a vanished pid failed a cancel as ``error``)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def live_descendants(spare: frozenset[int] = frozenset()) -> list[psutil.Process]:
    return [p for p in descendants() if p.pid not in spare and is_live(p)]


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` for ``procs`` to exit (reaping our children); returns those still alive."""
    try:
        _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    except psutil.Error:
        # A process vanished in a way wait_procs did not expect: look again, one by one.
        alive = [p for p in procs if is_live(p)]
    return alive


def terminate(procs: list[psutil.Process], grace_seconds: float) -> None:
    """TERM ``procs``, KILL those still alive after ``grace_seconds``, and reap them."""
    signal_all(procs, signal.SIGTERM)
    kill(wait_gone(procs, grace_seconds))


def kill(procs: list[psutil.Process]) -> None:
    signal_all(procs, signal.SIGKILL)
    wait_gone(procs, 5)


def stop_descendants(spare: frozenset[int] = frozenset(), grace_seconds: float = 2.0) -> list[int]:
    """TERM every descendant not in ``spare``, KILL what is left after the grace period, reap them all.

    Called after every run: on success it finds nothing, after a cancel or timeout it removes what
    ansible-runner's own process-group kill missed. ``spare`` holds processes that existed before the
    run started (none in a pool process; a test runner's own helpers when called in-process).
    """
    procs = [p for p in descendants() if p.pid not in spare]
    if not procs:
        return []
    terminate(procs, grace_seconds)
    # Processes forked while we were signalling (a task worker spawning its module) are caught by the
    # next passes, until a walk finds none; bounded so a fork bomb cannot keep us here.
    for _ in range(LATE_PASSES):
        seen = spare | {p.pid for p in procs}
        late = [p for p in descendants() if p.pid not in seen]
        if not late:
            break
        kill(late)
        procs += late
    pids = [p.pid for p in procs]
    log.info("stopped %d leftover processes of the run: %s", len(pids), pids)
    return pids


def reap_exited_children(name: str | None = None) -> None:
    """Collect this process's children that have exited (only those called ``name``, if given). bwrap's outer
    process exits as soon as the sandbox's init reports the command's status, leaving that init, exited too, to
    the nearest subreaper (us): a zombie, not a process of the run still running."""
    for proc in psutil.Process().children():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE and (name is None or proc.name() == name):
                os.waitpid(proc.pid, os.WNOHANG)
        except (psutil.Error, ChildProcessError):
            continue


def stop_ssh_agents(spare: frozenset[int] = frozenset(), grace_seconds: float = 2.0) -> list[int]:
    """End the ssh-agent ansible-runner started for the run's SSH key. It outlives the playbook (it polls
    for its command's exit every few seconds), holding the key and answering on its socket; it is part of
    every run with a key, so not a leftover worth reporting. TERM lets it remove its socket."""
    agents = []
    for proc in descendants():
        try:
            if proc.pid not in spare and proc.name() == "ssh-agent":
                agents.append(proc)
        except psutil.Error:
            continue
    terminate(agents, grace_seconds)
    return [p.pid for p in agents]


def signal_all(procs: list[psutil.Process], signum: int) -> None:
    for proc in procs:
        try:
            proc.send_signal(signum)
        except psutil.Error:
            pass  # already gone


class GracefulStop:
    """Stop a run's processes politely first: TERM to every process of the run (so tasks and handlers
    can clean up), then ``due`` turns true after the grace period or once all have exited, and the
    caller kills whatever is left."""

    def __init__(self, spare: frozenset[int], grace_seconds: float) -> None:
        self.spare = spare
        self.grace_seconds = grace_seconds
        self._deadline: float | None = None
        self._signaled: set[int] = set()

    def begin(self) -> None:
        if self._deadline is None:
            self._deadline = time.monotonic() + self.grace_seconds
            self._signal_newcomers()

    def due(self) -> bool:
        if self._deadline is None:
            return False
        # A stop can come before the playbook's processes exist (while the run is prepared, or between
        # ansible-runner's start and its fork): those that appear later get their TERM here, at the next
        # look, instead of living out the whole grace period.
        self._signal_newcomers()
        return time.monotonic() >= self._deadline or not live_descendants(self.spare)

    def _signal_newcomers(self) -> None:
        newcomers = [p for p in descendants() if p.pid not in self.spare and p.pid not in self._signaled]
        self._signaled.update(p.pid for p in newcomers)
        signal_all(newcomers, signal.SIGTERM)

    def cancel_callback(self, stop_requested: threading.Event, run_id: int) -> Callable[[], bool]:
        """ansible-runner's ``cancel_callback``: true once a stop was requested and its grace period is over
        (or the run's processes have all exited). ansible-runner turns anything this raises into
        ``CallbackError`` and the run into ``error``, with the playbook left running; so nothing may
        escape: a failed look falls back on the deadline alone, which needs no process table."""

        def should_cancel() -> bool:
            if not stop_requested.is_set():
                return False
            try:
                return self.due()
            except Exception:
                log.exception("run %s: checking its processes failed; stopping at the grace deadline", run_id)
                return self._deadline is not None and time.monotonic() >= self._deadline

        return should_cancel
