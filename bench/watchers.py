"""Live log with 200 watchers (issue 23): an event stored → received by each of 200 browsers.

Each watcher is what one browser holds through its SharedWorker: one ``GET /api/v1/live?runs=ID:0&
overview=true`` stream (``webui/static/live-hub.js``), here a raw HTTP connection read line by line. They run
as asyncio connections over a few client processes (200 processes would measure the machine's scheduler),
served by the real web server (``playdeck web``: gunicorn) on MariaDB. This process stores the events as
a worker does (``playdeck.runs.events.store_events``, one batch per flush interval, each in its own
transaction) and notes when each batch's commit returned; a watcher notes when it read the event's ``id:``
line. Latency = read − committed (one machine clock). A watcher that cannot get a stream counts as
missing every event: the row fails rather than measuring only the lucky ones.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import time
from urllib.parse import urlsplit

from bench.harness import Row, Stack, loadavg, percentile

WATCHERS = 200
PROCESSES = 4
BATCHES = 50
BATCH_EVENTS = 10
FLUSH_SECONDS = 0.1  # a worker's default event flush interval (PLAYDECK_EVENT_FLUSH_SECONDS)
CONNECT_SECONDS = 30
TARGET_MS = 300
_ID = re.compile(rb"^id: ([0-9]+)$", re.MULTILINE)


async def _watch(url: str, token: str, connected: list[float], until: float) -> dict[int, float]:
    parts = urlsplit(url)
    received: dict[int, float] = {}
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    except OSError:
        return received
    # HTTP/1.0: the stream comes unchunked and ends when the server closes it.
    writer.write(
        f"GET {parts.path}?{parts.query} HTTP/1.0\r\nHost: {parts.netloc}\r\nAuthorization: {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    # Read in chunks, not lines: a client cheap enough that 50 of them per process keep up (a line at a time,
    # the clients' own CPU was a good part of what was measured).
    tail, served = b"", False
    try:
        while (timeout := until - time.time()) > 0 and len(received) < BATCHES * BATCH_EVENTS:
            chunk = await asyncio.wait_for(reader.read(1 << 16), timeout)
            if not chunk:
                break
            now = time.time()
            if not served and b"retry:" in chunk:  # the stream's first line: this watcher is being served
                served = True
                connected.append(now)
            text = tail + chunk
            cut = text.rfind(b"\n") + 1  # an id line split across two reads is read whole with the next
            received.update((int(found), now) for found in _ID.findall(text, 0, cut))
            tail = text[cut:]
    except TimeoutError:
        pass
    finally:
        writer.close()
    return received


def _client_process(url: str, token: str, count: int, until: float, results) -> None:
    async def main() -> None:
        connected: list[float] = []
        watches = [asyncio.create_task(_watch(url, token, connected, until)) for _ in range(count)]
        done = await asyncio.gather(*watches)
        results.put((len(connected), done))

    asyncio.run(main())


def _store_batches(run_id: int) -> dict[int, float]:
    """Store the events as a worker does; counter → when its batch's commit returned."""
    from bench.logs import _event
    from playdeck.db import session_scope
    from playdeck.runs.events import event_row, store_events

    committed: dict[int, float] = {}
    counter = 0
    next_flush = time.monotonic()
    for _ in range(BATCHES):
        rows = []
        for _ in range(BATCH_EVENTS):
            counter += 1
            event = _event(counter)
            event["created"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            rows.append(event_row(run_id, event))
        with session_scope() as session:
            store_events(session, run_id, rows)
        stored = time.time()
        committed.update({row["counter"]: stored for row in rows})
        next_flush += FLUSH_SECONDS
        time.sleep(max(0.0, next_flush - time.monotonic()))
    return committed


def run(watchers: int = WATCHERS) -> list[Row]:
    from bench.ingest import seed_run

    with Stack("production", worker=False) as stack:
        run_id = seed_run()
        url = f"{stack.api}/live?runs={run_id}:0&overview=true"
        token = stack.http.headers["Authorization"]
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        # Every stream ends at ``until``: long enough to connect, then the whole run of batches.
        until = time.time() + CONNECT_SECONDS + BATCHES * FLUSH_SECONDS + 10
        shares = [watchers // PROCESSES + (i < watchers % PROCESSES) for i in range(PROCESSES)]
        processes = [context.Process(target=_client_process, args=(url, token, n, until, results)) for n in shares]
        for process in processes:
            process.start()
        _wait_connected(stack, watchers)
        committed = _store_batches(run_id)
        load = loadavg()
        outcomes = [results.get(timeout=CONNECT_SECONDS + BATCHES * FLUSH_SECONDS + 60) for _ in processes]
        for process in processes:
            process.join(timeout=10)
    return [_row(watchers, committed, outcomes, load)]


def _wait_connected(stack: Stack, watchers: int) -> None:
    """Until the web server holds ``watchers`` streams (or CONNECT_SECONDS passed: those missing will fail
    the row). Counted from the server's side: established connections to its port."""
    deadline = time.monotonic() + CONNECT_SECONDS
    while time.monotonic() < deadline and _established(stack.port) < watchers:
        time.sleep(0.2)
    time.sleep(1.0)  # the last streams' first poll


def _established(port: int) -> int:
    from pathlib import Path

    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and int(fields[1].split(":")[1], 16) == port:
            count += 1
    return count


def _row(watchers: int, committed: dict[int, float], outcomes, load: str) -> Row:
    latencies: list[float] = []
    served = complete = 0
    for connected, received_per_watcher in outcomes:
        served += connected
        for received in received_per_watcher:
            latencies += [(at - committed[c]) * 1000 for c, at in received.items() if c in committed]
            complete += len(received) == len(committed)
    missing = watchers * len(committed) - len(latencies)
    # A missing event counts as never received: with any missing, the p95 is infinite beyond 5 %.
    measured = percentile(latencies + [float("inf")] * missing, 0.95) if latencies or missing else float("nan")
    return Row(
        f"live log p95: stored → received ({watchers} watchers on /api/v1/live)",
        measured,
        "ms",
        TARGET_MS,
        note=f"{len(committed)} events ({BATCH_EVENTS} per {FLUSH_SECONDS * 1000:.0f} ms batch) × {watchers} watchers, "
        f"n={len(latencies)}, median {percentile(latencies, 0.5) if latencies else float('nan'):.0f} ms, "
        f"max {max(latencies, default=float('nan')):.0f} ms; {served}/{watchers} streams served, "
        f"{complete}/{watchers} got every event; load {load}",
    )


if __name__ == "__main__":
    from bench.harness import print_table

    print_table(run())
