"""API and pages at scale (issue 7, target 3) and the web process's footprint (target 5).

Seeds, once, a database ``bench_scale`` (kept and reused: delete it with ``DROP DATABASE bench_scale``)
with 100,000 runs over 10 projects × 3 environments and 10,000,000 events — one run has 200,000, the
others ~98 each — through LOAD DATA LOCAL INFILE. Rows are small (short stdout and event data): this
measures the queries' plans over many rows, not the transfer of large texts.

Then the real web server (``playdeck web``: gunicorn, 2 processes × 256 threads, one request executing
at a time in each) serves it, and 20 client processes, each sending its next request as soon as its
last one was answered (closed loop),
ask one endpoint for ``seconds``; the p95 of their latencies is reported per endpoint, with the p95 of
one client alone beside it. A closed loop keeps 20 requests in flight: on 2 cores the p95 is then at
least 20 × (CPU per request) / 2 — 100 ms needs ≤ 10 ms of CPU per request, client and DB included. Clients
authenticate with a Bearer token. Afterwards the RSS of each gunicorn worker is read from /proc.
"""

from __future__ import annotations

import datetime as dt
import http.client
import multiprocessing
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import (
    Row,
    Stack,
    children,
    cpu_seconds,
    database_exists,
    drop_database,
    loadavg,
    mysql,
    percentile,
    rss_mb,
)

DB_NAME = "bench_scale"
RUNS = 100_000
EVENTS = 10_000_000
BIG_RUN_EVENTS = 200_000
BIG_RUN_ID = 50_000
PROJECTS = 10
ENVIRONMENTS = ("dev", "staging", "prod")
USERS = ("alice", "bob", "carol", "dave", "erin")
STATES = ("successful",) * 8 + ("failed", "canceled")
CHUNK_EVENTS = 1_000_000
CLIENTS = 20


def _load(cursor, path: Path, table: str, columns: list[str]) -> None:
    cursor.execute(
        f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} FIELDS TERMINATED BY '\\t' ({', '.join(columns)})"
    )


def events_per_run() -> dict[int, int]:
    rest = (EVENTS - BIG_RUN_EVENTS) // (RUNS - 1)
    extra = (EVENTS - BIG_RUN_EVENTS) - rest * (RUNS - 1)
    counts = {run_id: rest + (1 if run_id <= extra else 0) for run_id in range(1, RUNS + 1)}
    counts[BIG_RUN_ID] = BIG_RUN_EVENTS
    # The big run took one "extra" slot too: give it back to keep the total exact.
    if BIG_RUN_ID <= extra:
        counts[RUNS] += 1
    return counts


RUN_COLUMNS = ["id", "kind", "project_id", "environment_id", "version", "extra_vars_json", "host_limit", "tags_json",
               "check_mode", "requested_by", "queue", "state", "reason", "queued_at", "started_at", "finished_at",
               "attempt", "event_count", "retry_number", "rc"]  # fmt: skip
SUMMARY_COLUMNS = ["run_id", "host", "ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored"]
EVENT_COLUMNS = ["run_id", "counter", "uuid", "event", "host", "task", "play", "stdout", "start_line", "end_line",
                 "created", "event_data_json"]  # fmt: skip
START = dt.datetime(2026, 1, 1)


def queued_at(run_id: int) -> dt.datetime:
    """Runs every 4 minutes from 2026-01-01: run 1 is the oldest."""
    return START + dt.timedelta(seconds=run_id * 240)


def load_runs(cursor, workdir: Path, run_ids: range, counts: dict[int, int]) -> None:
    """The runs and their host summaries; a function of the run id only, so a purged range can be restored."""
    runs_file, summaries_file = workdir / "runs.tsv", workdir / "summaries.tsv"
    with runs_file.open("w") as runs_out, summaries_file.open("w") as summaries_out:
        for run_id in run_ids:
            environment_id = run_id * 7919 % (PROJECTS * len(ENVIRONMENTS)) + 1
            project_id = (environment_id - 1) // len(ENVIRONMENTS) + 1
            state = STATES[run_id * 104729 % len(STATES)]
            queued = queued_at(run_id)
            started_at, finished_at = queued + dt.timedelta(seconds=1), queued + dt.timedelta(seconds=30)
            runs_out.write(
                f"{run_id}\tdeploy\t{project_id}\t{environment_id}\t1.{run_id}\t{{}}\t\t[]\t0\t"
                f"{USERS[run_id % len(USERS)]}\tdeploy\t{state}\t\t{queued}\t{started_at}\t{finished_at}\t"
                f"1\t{counts[run_id]}\t0\t{0 if state == 'successful' else 2}\n"
            )
            for host in ("local1", "local2"):
                summaries_out.write(f"{run_id}\t{host}\t5\t1\t{int(state == 'failed')}\t0\t0\t0\t0\n")
    _load(cursor, runs_file, "runs", RUN_COLUMNS)
    _load(cursor, summaries_file, "run_host_summaries", SUMMARY_COLUMNS)


def load_events(conn, workdir: Path, run_ids: range, counts: dict[int, int], started: float) -> int:
    """The runs' events, LOAD DATA'd and committed a million at a time; returns how many."""
    written = 0
    chunk = workdir / "events.tsv"
    out = chunk.open("w")
    with conn.cursor() as cursor:
        for run_id in run_ids:
            stamp = f"{queued_at(run_id) + dt.timedelta(seconds=2)}.000000"
            for counter in range(1, counts[run_id] + 1):
                host = f"local{counter % 50}"
                task = f"Debug items ({counter % 5 + 1})"
                out.write(
                    f"{run_id}\t{counter}\t{run_id:08x}-{counter:08x}\trunner_item_on_ok\t{host}\t{task}\tMany events\t"
                    f"ok: [{host}] => (item={counter})\t{counter}\t{counter + 1}\t{stamp}\t"
                    f'{{"host": "{host}", "task": "{task}", "item": {counter}}}\n'
                )
                written += 1
                if written % CHUNK_EVENTS == 0:
                    out.close()
                    _load(cursor, chunk, "run_events", EVENT_COLUMNS)
                    conn.commit()
                    print(f"seeded {written} events in {time.monotonic() - started:.0f} s", flush=True)
                    out = chunk.open("w")
        out.close()
        _load(cursor, chunk, "run_events", EVENT_COLUMNS)
        conn.commit()
    return written


def seed_connection():
    conn = mysql(DB_NAME, local_infile=True)
    conn.autocommit(False)
    with conn.cursor() as cursor:
        # Bulk loading: the generated rows are consistent by construction.
        cursor.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
    return conn


def restore_runs(run_ids: range) -> None:
    """Put back the seeded runs (and their events) that the retention benchmark purged."""
    counts = events_per_run()
    conn = seed_connection()
    with conn.cursor() as cursor, tempfile.TemporaryDirectory(prefix="playdeck-seed-") as workdir:
        load_runs(cursor, Path(workdir), run_ids, counts)
        load_events(conn, Path(workdir), run_ids, counts, time.monotonic())
    conn.close()


def seed() -> None:
    """Create and fill bench_scale; a database left half-seeded (no ``bench_seeded`` table) is redone."""
    import os

    from bench.harness import use_database

    drop_database(DB_NAME)
    conn = mysql()
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4")
    conn.close()
    saved = dict(os.environ)
    use_database(f"mysql+pymysql://root@127.0.0.1:3306/{DB_NAME}?charset=utf8mb4")
    try:
        from playdeck import migrate

        migrate.upgrade()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    started = time.monotonic()
    counts = events_per_run()
    conn = seed_connection()
    with conn.cursor() as cursor, tempfile.TemporaryDirectory(prefix="playdeck-seed-") as workdir:
        for p in range(1, PROJECTS + 1):
            cursor.execute(
                "INSERT INTO projects (id, name, description, playbook, created_at, run_timeout_seconds, "
                "idle_timeout_seconds, lock_deploys, supersede_queued, retry_lost_runs) "
                "VALUES (%s, %s, '', 'trivial.yml', NOW(), 3600, 600, 1, 0, 0)",
                (p, f"app{p:02d}"),
            )
            for e, name in enumerate(ENVIRONMENTS):
                cursor.execute(
                    "INSERT INTO environments (id, project_id, name, inventory, protected) VALUES (%s,%s,%s,%s,0)",
                    ((p - 1) * len(ENVIRONMENTS) + e + 1, p, name, "local1.ini"),
                )
        load_runs(cursor, Path(workdir), range(1, RUNS + 1), counts)
        conn.commit()
        written = load_events(conn, Path(workdir), range(1, RUNS + 1), counts, started)
        cursor.execute("ANALYZE TABLE runs, run_events, run_host_summaries")
        cursor.fetchall()
        cursor.execute(
            f"CREATE TABLE bench_seeded (events BIGINT, seconds FLOAT) SELECT {written} AS events, "
            f"{time.monotonic() - started:.1f} AS seconds"
        )
        conn.commit()
    conn.close()
    print(f"seeded {DB_NAME}: {RUNS} runs, {written} events in {time.monotonic() - started:.0f} s", flush=True)


def ensure_seeded() -> None:
    if database_exists(DB_NAME):
        conn = mysql(DB_NAME)
        with conn.cursor() as cursor:
            done = cursor.execute("SHOW TABLES LIKE 'bench_seeded'")
        conn.close()
        if done:
            return
    seed()


# --- load ------------------------------------------------------------------------------------------


def _client(url: str, token: str, seconds: float, start_at: float, results) -> None:
    """One client: a keep-alive connection, the next request sent as soon as the last was answered."""
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Authorization": token}
    latencies, errors = [], 0
    time.sleep(max(0.0, start_at - time.time()))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sent = time.perf_counter()
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        response.read()
        elapsed = (time.perf_counter() - sent) * 1000
        if response.status == 200:
            latencies.append(elapsed)
        else:
            errors += 1
    connection.close()
    results.put((latencies, errors, time.process_time()))


def hammer(url: str, token: str, seconds: float, clients: int = CLIENTS) -> tuple[list[float], int, float]:
    """``clients`` processes in a closed loop on ``url`` for ``seconds``: latencies in ms, errors, and the
    clients' CPU seconds. Processes, like the separate browsers they stand for: threads of one Python
    process would queue for its GIL, and that wait would be counted as the server's latency."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start_at = time.time() + 0.3  # all connected and ready, then all start together
    processes = [context.Process(target=_client, args=(url, token, seconds, start_at, results)) for _ in range(clients)]
    for process in processes:
        process.start()
    outcomes = [results.get() for _ in processes]
    for process in processes:
        process.join()
    latencies = [latency for outcome in outcomes for latency in outcome[0]]
    return latencies, sum(outcome[1] for outcome in outcomes), sum(outcome[2] for outcome in outcomes)


def connections_per_process(port: int) -> list[int]:
    """Established client connections to ``port`` per server process, most first (``ss -p``)."""
    listing = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True, check=True
    ).stdout
    return sorted(
        Counter(line.split("pid=")[1].split(",")[0] for line in listing.splitlines() if "pid=" in line).values(),
        reverse=True,
    )


def mariadb_pid() -> int:
    return int(
        subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True, text=True, check=True).stdout.split()[0]
    )


def observed_hammer(stack: Stack, url: str, token: str, seconds: float, clients: int):
    """``hammer``, and where the time went: CPU ms per request of the web processes, MariaDB and the client
    processes (they share the 2 cores), and how the clients' keep-alive connections were spread over the web
    processes (each stays on the process that accepted it)."""
    processes = {"web": children(stack.web.pid), "MariaDB": [mariadb_pid()]}

    def cpu_used() -> dict[str, float]:
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in processes.items()}

    before = cpu_used()
    spread: list[int] = []
    sampler = threading.Timer(seconds / 2, lambda: spread.extend(connections_per_process(stack.port)))
    sampler.start()
    latencies, errors, client_cpu = hammer(url, token, seconds, clients)
    sampler.join()
    used = {name: seconds_used - before[name] for name, seconds_used in cpu_used().items()} | {"clients": client_cpu}
    cpu = ", ".join(f"{name} {1000 * value / max(1, len(latencies)):.1f}" for name, value in used.items())
    return latencies, errors, cpu, spread


def endpoints(base: str) -> dict[str, str]:
    api = f"{base}/api/v1"
    return {
        "GET /api/v1/runs": f"{api}/runs",
        "GET /api/v1/runs?project&state (filtered)": f"{api}/runs?project=app03&state=failed",
        "GET /runs (page)": f"{base}/runs",
        "GET /runs?project&state (page, filtered)": f"{base}/runs?project=app03&state=failed",
        "GET /runs/<id> (page, 200k-event run)": f"{base}/runs/{BIG_RUN_ID}",
        "GET /api/v1/runs/<id>/events (first page)": f"{api}/runs/{BIG_RUN_ID}/events",
        "GET /api/v1/runs/<id>/events?limit=1000 (largest page)": f"{api}/runs/{BIG_RUN_ID}/events?limit=1000",
    }


# Measured and shown, without a target: the largest page a client may ask for (the default page is the
# target's "first page of the log", and what the run page loads).
INFO_ENDPOINTS = {"GET /api/v1/runs/<id>/events?limit=1000 (largest page)"}


def run(seconds: float = 10.0, clients: int = CLIENTS) -> tuple[list[Row], list[Row]]:
    """The scale rows and the web footprint rows (measured right after the load)."""
    ensure_seeded()
    rows: list[Row] = []
    with Stack("production", db_name=DB_NAME, keep_database=True, worker=False) as stack:
        token = stack.http.headers["Authorization"]
        base = f"http://127.0.0.1:{stack.port}"
        for name, url in endpoints(base).items():
            # Also warms each gunicorn process's pool and caches. Alone, the latency is the request's own.
            alone, _, _ = hammer(url, token, 3.0, clients=1)
            latencies, errors, cpu, spread = observed_hammer(stack, url, token, seconds, clients)
            load = loadavg()
            rows.append(
                Row(
                    f"scale p95: {name}",
                    percentile(latencies, 0.95),
                    "ms",
                    None if name in INFO_ENDPOINTS else 100,
                    note=f"{clients} clients closed loop {seconds:g} s, n={len(latencies)}, "
                    f"{len(latencies) / seconds:.0f} req/s, median {percentile(latencies, 0.5):.0f} ms, "
                    f"p99 {percentile(latencies, 0.99):.0f} ms, errors {errors}; "
                    f"1 client alone: p95 {percentile(alone, 0.95):.0f} ms; CPU ms/request: {cpu}; "
                    f"connections per web process {'/'.join(map(str, spread))}; load {load}",
                )
            )
        workers = children(stack.web.pid)
        footprint = [
            Row(
                "footprint: gunicorn web worker RSS (max) after the scale load",
                max(rss_mb(pid) for pid in workers),
                "MB",
                150,
                note=f"{len(workers)} workers: {', '.join(f'{rss_mb(pid):.0f}' for pid in workers)} MB; "
                f"master {rss_mb(stack.web.pid):.0f} MB",
            )
        ]
    return rows, footprint


if __name__ == "__main__":
    ensure_seeded()
