"""Live log latency (issue 7, target 2): ansible produces an event → an SSE client receives it.

A real run of bench/playbooks/many_events.yml through the whole stack (API → worker → DB → gunicorn →
``/api/v1/runs/<id>/stream``), watched by 20 SSE clients, each its own process (so one client's
parsing never delays another's clock). Latency = the moment a client read the event's ``data:`` line
− the event's ``created`` stamp (ansible's callback, same machine clock). Events created before a
client was connected are left out (they arrive as a backlog, not live).

"No client can make ingestion slower": the same run is made twice in one stack, without clients and
with 20, and the DB lag (see bench/ingest.py) and the run's duration are compared.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import time

import requests

from bench.harness import Row, Stack, loadavg, percentile, utcnow
from bench.ingest import Observer, live_stack, start_many_events

CLIENTS = 20
ITEMS = 10


def _client(url: str, token: str, ready, results) -> None:
    http = requests.Session()
    http.headers["Authorization"] = token
    latencies: list[float] = []
    received = 0
    with http.get(url, stream=True, timeout=600) as response:
        connected = utcnow()
        ready.put(True)
        kind = None
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "run_event":
                now = utcnow()
                event = json.loads(line[6:])
                received += 1
                created = event.get("created")
                if created:
                    stamp = dt.datetime.fromisoformat(created).astimezone(dt.UTC).replace(tzinfo=None)
                    if stamp >= connected:
                        latencies.append((now - stamp).total_seconds() * 1000)
            elif line.startswith("data: ") and kind == "end":
                break
    results.put((received, latencies))


def watched_run(stack: Stack, clients: int, items: int) -> dict:
    run_id = start_many_events(stack, items)
    observer = Observer(run_id)
    observer.start()
    context = multiprocessing.get_context("fork")
    ready, results = context.Queue(), context.Queue()
    url = f"{stack.api}/runs/{run_id}/stream"
    token = stack.http.headers["Authorization"]
    processes = [context.Process(target=_client, args=(url, token, ready, results)) for _ in range(clients)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=60)
    run = stack.wait_finished(run_id, poll=0.5)
    observer.done.set()
    observer.join()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    if run.state != "successful":
        raise RuntimeError(f"run {run_id} ended {run.state}: {run.reason}")
    return {
        "duration": (run.finished_at - run.started_at).total_seconds(),
        "db_lags": observer.lags,
        "sse": [lag for _, lags in outcomes for lag in lags],
        "received": [count for count, _ in outcomes],
        "events": len(observer.lags),
    }


def run(clients: int = CLIENTS, items: int = ITEMS) -> list[Row]:
    with live_stack() as stack:
        alone = watched_run(stack, 0, items)
        load_alone = loadavg()
        watched = watched_run(stack, clients, items)
        load = loadavg()
    complete = sum(count == watched["events"] for count in watched["received"])
    return [
        Row(
            f"live log p95: ansible created → SSE client ({clients} clients)",
            percentile(watched["sse"], 0.95),
            "ms",
            500,
            note=f"{watched['events']} events × {clients} clients, n={len(watched['sse'])}, median "
            f"{percentile(watched['sse'], 0.5):.0f} ms; {complete}/{clients} clients got every event; load {load}",
        ),
        Row(
            f"ingest lag p95 with {clients} SSE clients watching",
            percentile(watched["db_lags"], 0.95),
            "ms",
            1000,
            note=f"run {watched['duration']:.1f} s; without clients: lag p95 "
            f"{percentile(alone['db_lags'], 0.95):.0f} ms, run {alone['duration']:.1f} s (load {load_alone})",
        ),
        Row(
            f"run duration with {clients} SSE clients / without",
            watched["duration"] / alone["duration"],
            "x",
            None,
            note="> 1: the clients slowed the run down (the machine is shared: CPU, not the DB, is the usual cause)",
        ),
    ]


if __name__ == "__main__":
    start = time.monotonic()
    from bench.harness import print_table

    print_table(run())
    print(f"{time.monotonic() - start:.0f} s")
