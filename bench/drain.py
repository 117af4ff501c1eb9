"""Queue drain (issue 7, target 4): ``runs`` trivial runs queued at once, 2 worker processes.

How the overhead is computed (worker-seconds, so that 2 parallel workers are accounted for):

    wall      = last run's finished_at − first run's queued_at           (as the platform recorded them)
    bare      = wall time of the same number of bare ``ansible_runner.run`` of the same playbook and
                inventory, 2 at a time in this process (same parallelism, so same CPU contention)
    overhead  = (2 × wall − 2 × bare) / runs

i.e. the worker time a run costs beyond what ansible-runner itself needs for the same playbook:
the API, queueing, claiming, the DB writes, event persistence, finishing. ``bare`` is measured over
``bare_runs`` (fewer) runs and scaled to ``runs``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from bench.harness import Row, Stack, loadavg, run_in_threads
from bench.pipeline import bare_run

WORKERS = 2


def bare_wall(runs: int) -> float:
    """Wall time of ``runs`` bare ansible-runner runs of trivial.yml, ``WORKERS`` at a time."""
    counter = iter(range(runs))
    lock = threading.Lock()

    with tempfile.TemporaryDirectory(prefix="playdeck-bare-") as workdir:

        def worker() -> None:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                bare_run(Path(workdir), index, playbook="trivial.yml", inventory="local1.ini")

        bare_run(Path(workdir), -1, playbook="trivial.yml", inventory="local1.ini")  # warm the page cache
        started = time.perf_counter()
        run_in_threads(worker, WORKERS)
        return time.perf_counter() - started


def drain(stack: Stack, runs: int) -> float:
    """Queue ``runs`` runs as fast as the API takes them; wall time until the last one ended."""
    from sqlalchemy import func, select

    from playdeck import db
    from playdeck.models import Run

    stack.register_project("drain", "trivial.yml", {"local": "local1.ini"}, lock_deploys=False)
    ids = [stack.deploy("drain") for _ in range(runs)]
    for run_id in ids:
        run = stack.wait_finished(run_id, poll=1.0, timeout=runs * 30)
        if run.state != "successful":
            raise RuntimeError(f"run {run_id} ended {run.state}: {run.reason}")
    with db.session_scope() as session:
        first, last = session.execute(
            select(func.min(Run.queued_at), func.max(Run.finished_at)).where(Run.id.in_(ids))
        ).one()
    return (last - first).total_seconds()


def run(runs: int = 1000, bare_runs: int | None = None) -> list[Row]:
    bare_runs = bare_runs or min(runs, 100)
    with Stack("production", worker_concurrency=WORKERS) as stack:
        stack.deploy("trivial")  # warm the worker up (imports, connections)
        wall = drain(stack, runs)
        load = loadavg()
    bare = bare_wall(bare_runs) * runs / bare_runs
    load_bare = loadavg()
    overhead = WORKERS * (wall - bare) / runs
    return [
        Row(
            f"drain: platform overhead per run ({runs} trivial runs, {WORKERS} workers)",
            overhead * 1000,
            "ms",
            150,
            note=f"wall {wall:.1f} s ({runs / wall:.2f} runs/s, load {load}); bare ansible-runner ×{WORKERS} "
            f"{bare:.1f} s scaled from {bare_runs} runs (load {load_bare})",
        )
    ]
