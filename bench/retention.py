"""Retention (issue 7, target 6): purging old runs at 10M events without stalling the live system.

On the seeded ``bench_scale`` (see bench/scale.py), ``playdeck.runs.purge.purge_runs`` deletes the
oldest ``PURGED_RUNS`` runs (~98 events each) while two threads play the live system:

* a worker: a running run whose events arrive in batches of 200 through ``playdeck.runs.events``
  (the EventPump's path), one batch every 50 ms;
* a reader: the first page of the 200,000-event run's log and the first page of the runs list,
  back to back.

Reported: the purge's rate, its longest single transaction (DELETE + commit), and the worst and
p99 latency of the worker's batches and the reader's queries during the purge next to the same
without a purge (measured first, for ``BASELINE_SECONDS``). Afterwards the purged runs are restored,
so that bench_scale stays as seeded.
"""

from __future__ import annotations

import threading
import time
import uuid

from bench import scale
from bench.harness import Row, loadavg, percentile, use_database

PURGED_RUNS = 5000
BASELINE_SECONDS = 10
BATCH = 200


class Load(threading.Thread):
    def __init__(self, work) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            self.work()
            self.latencies.append((time.perf_counter() - started) * 1000)


def live_run() -> int:
    from playdeck.db import session_scope
    from playdeck.models import Run

    with session_scope() as session:
        run = Run(project_id=1, environment_id=1, state="running", requested_by="bench")
        session.add(run)
        session.flush()
        return run.id


def writer(run_id: int):
    from playdeck.db import session_scope
    from playdeck.runs.events import event_row, store_events

    counter = 0

    def write() -> None:
        nonlocal counter
        rows = []
        for _ in range(BATCH):
            counter += 1
            event = {"counter": counter, "uuid": str(uuid.uuid4()), "event": "runner_on_ok", "stdout": "ok: [h]",
                     "event_data": {"host": "h", "task": "t"}}  # fmt: skip
            rows.append(event_row(run_id, event))
        with session_scope() as session:
            store_events(session, run_id, rows)
        time.sleep(0.05)

    return write


def reader() -> None:
    from playdeck.db import session_scope
    from playdeck.runs.events import events_after
    from playdeck.runs.queries import RunFilters, list_runs

    with session_scope() as session:
        events_after(session, scale.BIG_RUN_ID, 0)
        list_runs(session, RunFilters(), page=1, per_page=50)


def measure(seconds: float | None, purge=None) -> tuple[list[float], list[float], object]:
    from sqlalchemy import delete

    from playdeck.db import session_scope
    from playdeck.models import Run, RunEvent

    run_id = live_run()
    loads = [Load(writer(run_id)), Load(reader)]
    for load in loads:
        load.start()
    result = purge() if purge else time.sleep(seconds)
    for load in loads:
        load.stop.set()
        load.join()
    with session_scope() as session:
        session.execute(delete(RunEvent).where(RunEvent.run_id == run_id))
        session.execute(delete(Run).where(Run.id == run_id))
    return loads[0].latencies, loads[1].latencies, result


def run() -> list[Row]:
    from playdeck.runs.purge import purge_runs

    scale.ensure_seeded()
    use_database(f"mysql+pymysql://root@127.0.0.1:3306/{scale.DB_NAME}?charset=utf8mb4")
    base_writes, base_reads, _ = measure(BASELINE_SECONDS)
    base_load = loadavg()
    started = time.perf_counter()
    writes, reads, report = measure(None, lambda: purge_runs(scale.queued_at(PURGED_RUNS + 1)))
    elapsed = time.perf_counter() - started
    load = loadavg()
    scale.restore_runs(range(1, PURGED_RUNS + 1))

    def stats(values: list[float]) -> str:
        return f"max {max(values):.0f} ms, p99 {percentile(values, 0.99):.0f} ms, n={len(values)}"

    return [
        Row(
            "retention: purge rate (batched, 5000 rows per transaction)",
            report.events / elapsed,
            "ev/s",
            None,
            note=f"{report.runs} runs, {report.events} events in {elapsed:.1f} s, "
            f"{report.transactions} transactions; load {load}",
        ),
        Row(
            "retention: longest single purge transaction",
            report.longest_transaction_seconds * 1000,
            "ms",
            None,
            note="DELETE of one batch + commit: the longest any row lock was held",
        ),
        Row(
            f"retention: live event batch ({BATCH} rows) during purge, max",
            max(writes),
            "ms",
            1000,
            note=f"during: {stats(writes)}; without purge: {stats(base_writes)} (load {base_load})",
        ),
        Row(
            "retention: live reads (log page + runs list) during purge, max",
            max(reads),
            "ms",
            1000,
            note=f"during: {stats(reads)}; without purge: {stats(base_reads)}",
        ),
    ]
