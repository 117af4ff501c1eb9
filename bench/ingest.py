"""Event ingestion (issue 7, target 1): a recorded large run replayed through the production persistence
path, and the lag between ansible producing an event and the event being readable in the DB.

Replay: every recorded event goes to ``EventPump.put`` — ansible-runner's event handler in a worker —
as fast as this process can call it; the pump's own thread writes the batches (``playdeck.runs.events``)
exactly as in a run. Measured: events / (first put → ``close()`` returned, everything committed).
Then the stored rows are counted: total, distinct counters, and the run's ``event_count``.

Lag: a real run of bench/playbooks/many_events.yml through the whole stack (API → worker); an observer
polls the DB every 50 ms for new rows and notes when each counter became visible; lag = visible −
the event's ``created`` stamp (ansible's callback, same clock). The 50 ms poll adds ≤ 50 ms.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench import recording
from bench.harness import BENCH_DIR, Database, Row, Stack, loadavg, percentile, utcnow

POLL_SECONDS = 0.05


def seed_run() -> int:
    """A project, an environment and one running run to attach events to."""
    from playdeck.db import session_scope
    from playdeck.models import Environment, Project, Run

    with session_scope() as session:
        project = Project(name="ingest", playbook="many_events.yml")
        environment = Environment(project=project, name="local", inventory="local.ini")
        run = Run(project=project, environment=environment, state="running", requested_by="bench")
        session.add_all([project, environment, run])
        session.flush()
        return run.id


def stored_counts(run_id: int) -> tuple[int, int, int]:
    from sqlalchemy import text

    from playdeck.db import session_scope

    with session_scope() as session:
        total, distinct = session.execute(
            text("SELECT COUNT(*), COUNT(DISTINCT counter) FROM run_events WHERE run_id = :r"), {"r": run_id}
        ).one()
        counted = session.scalar(text("SELECT event_count FROM runs WHERE id = :r"), {"r": run_id})
    return total, distinct, counted


def replay(events: list[dict[str, Any]]) -> dict[str, Any]:
    """One replay into a fresh database; returns the rate and the stored counts."""
    from playdeck.settings import get_settings
    from runners.event_pump import EventPump

    with Database():
        run_id = seed_run()
        pump = EventPump(run_id, get_settings())
        pump.start()
        started = time.perf_counter()
        for event in events:
            pump.put(event)
        pump.close()
        elapsed = time.perf_counter() - started
        total, distinct, counted = stored_counts(run_id)
    expected = len({e["counter"] for e in events if "counter" in e and e.get("event") != "keepalive"})
    return {
        "rate": len(events) / elapsed,
        "elapsed": elapsed,
        "expected": expected,
        "stored": total,
        "distinct": distinct,
        "event_count": counted,
    }


def replay_rows(repeats: int = 3) -> list[Row]:
    events = recording.load()
    results = [replay(events) for _ in range(repeats)]
    load = loadavg()
    rates = sorted(r["rate"] for r in results)
    lost = max(r["expected"] - r["distinct"] for r in results)
    duplicated = max(r["stored"] - r["distinct"] for r in results)
    miscounted = max(abs(r["event_count"] - r["stored"]) for r in results)
    n = f"{len(events)} recorded events, {repeats} replays"
    return [
        Row(
            "ingest: replay through EventPump → MariaDB (median)",
            rates[len(rates) // 2],
            "ev/s",
            20000,
            lower_is_better=False,
            note=f"{n}; all: {', '.join(f'{r:.0f}' for r in rates)}; load {load}",
        ),
        Row("ingest: events lost (expected − distinct stored)", lost, "", 0, note=f"worst of {repeats}"),
        Row("ingest: events duplicated (rows − distinct counters)", duplicated, "", 0, note=f"worst of {repeats}"),
        Row("ingest: runs.event_count ≠ rows stored", miscounted, "", 0),
    ]


# --- lag in a real run ----------------------------------------------------------------------------


class Observer(threading.Thread):
    """Polls a run's events and records, per counter, when it was first readable and its ``created``."""

    def __init__(self, run_id: int) -> None:
        super().__init__(daemon=True)
        self.run_id = run_id
        self.lags: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        from sqlalchemy import text

        from playdeck.db import session_scope

        after = 0
        while True:
            finished = self.done.is_set()
            with session_scope() as session:
                rows = session.execute(
                    text("SELECT counter, created FROM run_events WHERE run_id = :r AND counter > :a ORDER BY counter"),
                    {"r": self.run_id, "a": after},
                ).all()
            seen = utcnow()
            for counter, created in rows:
                if created is not None:
                    self.lags.append((seen - created).total_seconds() * 1000)
                after = counter
            if finished:
                return
            time.sleep(POLL_SECONDS)


MANY_EVENTS_HOSTS = 50


def live_stack(**kwargs) -> Stack:
    """A production stack with the many-events project over a generated inventory of local hosts."""
    inventory_dir = recording.CACHE_DIR / "inventory"
    for name in ("local1.ini", "local5.ini"):
        inventory_dir.mkdir(parents=True, exist_ok=True)
        (inventory_dir / name).write_text((BENCH_DIR / "inventory" / name).read_text())
    recording.write_inventory(inventory_dir, MANY_EVENTS_HOSTS)
    return Stack("production", env={"PLAYDECK_INVENTORY_DIR": str(inventory_dir)}, **kwargs)


def start_many_events(stack: Stack, items: int) -> int:
    stack.register_project("manyevents", "many_events.yml", {"local": f"local{MANY_EVENTS_HOSTS}.ini"})
    response = stack.http.post(
        f"{stack.api}/runs",
        json={"project": "manyevents", "environment": "local", "extra_vars": {"bench_items": items}},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["id"]


def observe_run(stack: Stack, items: int) -> tuple[list[float], Any]:
    run_id = start_many_events(stack, items)
    observer = Observer(run_id)
    observer.start()
    run = stack.wait_finished(run_id, poll=0.5)
    observer.done.set()
    observer.join()
    if run.state != "successful":
        raise RuntimeError(f"run {run_id} ended {run.state}: {run.reason}")
    return observer.lags, run


def lag_rows(items: int = 20) -> list[Row]:
    with live_stack() as stack:
        lags, run = observe_run(stack, items)
    load = loadavg()
    duration = (run.finished_at - run.started_at).total_seconds()
    return [
        Row(
            "ingest lag p95: ansible created → readable in DB",
            percentile(lags, 0.95),
            "ms",
            1000,
            note=f"real run, {len(lags)} events in {duration:.1f} s, 50 ms poll; median "
            f"{percentile(lags, 0.5):.0f} ms; load {load}",
        )
    ]


def run() -> list[Row]:
    return replay_rows() + lag_rows()
