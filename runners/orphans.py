"""Finds and stops processes of runs that no live worker owns any more.

Every process a run starts carries ``PLAYDECK_RUN=<install>/<run id>`` in its environment (inherited
through ansible-playbook, its per-host workers in their own sessions, and the modules they run), so
the run's processes can be found even after their worker died and they were re-parented to init. The
install part (derived from the database URL) keeps two Playdeck installs on one host out of each
other's way. Each worker master sweeps its host periodically: a process whose run has ended, or whose
run's worker process on this host is gone, is killed; such a run is recorded ``lost``.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading

import psutil
from sqlalchemy import select

from playdeck.db import session_scope
from playdeck.models import Run
from playdeck.runs.lost import record_lost
from playdeck.runs.states import RunState, is_terminal
from playdeck.settings import get_settings
from runners import processes, secret_files

log = logging.getLogger(__name__)

RUN_ENV = "PLAYDECK_RUN"
# Often enough that a force-canceled run's leftovers go within a minute, rarely enough to cost nothing.
SWEEP_EVERY_SECONDS = 15.0


def install_id() -> str:
    return hashlib.sha256(get_settings().database_url.encode()).hexdigest()[:12]


def run_tag(run_id: int) -> str:
    """The value of ``RUN_ENV`` for the processes of ``run_id``."""
    return f"{install_id()}/{run_id}"


def run_processes() -> dict[int, list[psutil.Process]]:
    """This host's processes that belong to a run of this install, by run id."""
    prefix = f"{install_id()}/"
    found: dict[int, list[psutil.Process]] = {}
    for proc in psutil.process_iter():
        try:
            value = proc.environ().get(RUN_ENV, "")
        except (psutil.Error, OSError):
            continue  # gone, a zombie, or not ours to read
        if value.startswith(prefix) and value[len(prefix) :].isdigit():
            found.setdefault(int(value[len(prefix) :]), []).append(proc)
    return found


def _orphaned(state: str | None, worker_host: str | None, worker_pid: int | None, host: str) -> bool:
    if state is None or is_terminal(state):
        return True
    if state == RunState.RUNNING and worker_host == host:
        return worker_pid is None or not psutil.pid_exists(worker_pid)
    return False  # queued, or running on another host: not this host's call


def mark_lost_runs(host: str) -> list[int]:
    """Record ``lost`` for runs said to be running on this host whose worker process is gone."""
    with session_scope() as session:
        running_here = session.execute(
            select(Run.id, Run.worker_pid).where(Run.state == RunState.RUNNING.value, Run.worker_host == host)
        ).all()
    lost = []
    for row in running_here:
        if row.worker_pid is not None and psutil.pid_exists(row.worker_pid):
            continue
        with session_scope() as session:
            gone = record_lost(session, row.id, f"its worker process {row.worker_pid} on {host} is gone")
        if gone is not None:
            lost.append(row.id)
    return lost


def sweep(host: str | None = None) -> dict[int, list[int]]:
    """Record runs whose worker died as lost (and delete the secret files it left), then kill the processes
    of runs no live worker owns; returns {run id: pids killed}."""
    host = host or socket.gethostname()
    for run_id in mark_lost_runs(host):
        secret_files.remove_leftovers(get_settings().runs_dir / str(run_id))
    found = run_processes()
    if not found:
        return {}
    with session_scope() as session:
        rows = {
            row.id: row
            for row in session.execute(
                select(Run.id, Run.state, Run.worker_host, Run.worker_pid).where(Run.id.in_(found))
            )
        }
    killed: dict[int, list[int]] = {}
    for run_id, procs in found.items():
        row = rows.get(run_id)
        if not _orphaned(row and row.state, row and row.worker_host, row and row.worker_pid, host):
            continue
        processes.kill(procs)  # one that exits meanwhile is simply gone
        killed[run_id] = [p.pid for p in procs]
        log.warning("killed %d orphaned processes of run %s (state %s)", len(procs), run_id, row and row.state)
    return killed


def sweep_once() -> None:
    """``sweep()``, logging instead of raising: a failed sweep must never take the worker down."""
    try:
        sweep()
    except Exception:
        log.exception("orphan sweep failed")


def start_sweeping(interval: float = SWEEP_EVERY_SECONDS) -> threading.Thread:
    """Sweep now and then every ``interval`` seconds, on a daemon thread of the worker master."""

    def loop() -> None:
        while True:
            sweep_once()
            stop.wait(interval)

    stop = threading.Event()
    thread = threading.Thread(target=loop, name="orphan-sweeper", daemon=True)
    thread.start()
    return thread
