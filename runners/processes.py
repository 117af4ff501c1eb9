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
import time

import psutil

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36


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


def stop_descendants(spare: frozenset[int] = frozenset(), grace_seconds: float = 2.0) -> list[int]:
    """TERM every descendant not in ``spare``, KILL what is left after the grace period, reap them all.

    Called after every run: on success it finds nothing, after a cancel or timeout it removes what
    ansible-runner's own process-group kill missed. ``spare`` holds processes that existed before the
    run started (none in a pool process; a test runner's own helpers when called in-process).
    """
    procs = [p for p in descendants() if p.pid not in spare]
    if not procs:
        return []
    _signal_all(procs, signal.SIGTERM)
    _gone, alive = psutil.wait_procs(procs, timeout=grace_seconds)
    _signal_all(alive, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=5)
    # Processes forked while we were signalling (a task worker spawning its module) are caught by a
    # second pass; bounded so a fork bomb cannot keep us here.
    seen = spare | {p.pid for p in procs}
    late = [p for p in descendants() if p.pid not in seen]
    _signal_all(late, signal.SIGKILL)
    psutil.wait_procs(late, timeout=5)
    pids = [p.pid for p in procs + late]
    log.info("stopped %d leftover processes of the run: %s", len(pids), pids)
    return pids


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
    _signal_all(agents, signal.SIGTERM)
    _gone, alive = psutil.wait_procs(agents, timeout=grace_seconds)
    _signal_all(alive, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=5)
    return [p.pid for p in agents]


def _signal_all(procs: list[psutil.Process], signum: int) -> None:
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

    def begin(self) -> None:
        if self._deadline is None:
            self._deadline = time.monotonic() + self.grace_seconds
            _signal_all([p for p in descendants() if p.pid not in self.spare], signal.SIGTERM)

    def due(self) -> bool:
        if self._deadline is None:
            return False
        alive = [p for p in descendants() if p.pid not in self.spare and p.status() != psutil.STATUS_ZOMBIE]
        return not alive or time.monotonic() >= self._deadline
