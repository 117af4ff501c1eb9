"""Log search and filters over a long run (issue 23, item 5): the p95 of one client's requests to the real
web server (``playdeck web``) on MariaDB, for a run of 200,000 events (the issue's size).

The events look like a real run's (~900 bytes a row: a coloured line of output and ansible's result data),
over 10 hosts, with a failure near the end. A search whose text is rare is the worst case: every line of
the run is read to count the matches (in ``run_event_lines``, ~160 bytes a row). A common text fills its
page quickly but is still counted up to 1,000. The host filter reads until its page is full; the status
filter "failed,unreachable" reads the run's failures only (``run_event_failures``).

Targets: a search over the whole run, p95 ≤ 300 ms (issue 23's number: "whole-run log search over a
200,000-event run"); a page of the log read through ``/events`` (one host's page, the first failure),
p95 ≤ 100 ms, the rule of issue 7 for a page of a 200,000-event run's log.
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlencode

from bench.harness import Row, Stack, loadavg, percentile

EVENTS = 200_000
HOSTS = 10
BATCH = 2_000
RARE = "needle-in-the-haystack"
RARE_AT = (17, 100_000, 198_000)
FAILURE_AT = EVENTS - 500
WARMUP = 3
REQUESTS = 40
SEARCH_TARGET_MS = 300
PAGE_TARGET_MS = 100


def _event(n: int) -> dict:
    host = f"web{n % HOSTS + 1}"
    changed = n % 3 == 0
    word = "changed" if changed else "ok"
    text = f"\x1b[0;{33 if changed else 32}m{word}: [{host}] => (item=pkg-{n}) {uuid.uuid4().hex}\x1b[0m"
    event = "runner_item_on_ok"
    if n in RARE_AT:
        text += f" {RARE}"
    if n == FAILURE_AT:
        event, text = "runner_on_failed", f"\x1b[0;31mfatal: [{host}]: FAILED! => boom\x1b[0m"
    result = {"changed": changed, "item": f"pkg-{n}", "msg": "installed " * 30,
              "invocation": {"module_args": {"name": f"pkg-{n}", "state": "present"}}}  # fmt: skip
    data = {"host": host, "task": f"Install packages {n // 100}", "play": "Deploy", "res": result}
    return {"counter": n, "uuid": str(uuid.uuid4()), "event": event, "stdout": text, "event_data": data}


def seed() -> int:
    """One run of ``EVENTS`` events, stored through the production write path."""
    from bench.ingest import seed_run
    from playdeck.db import session_scope
    from playdeck.runs.events import event_row, store_events

    run_id = seed_run()
    for start in range(1, EVENTS + 1, BATCH):
        rows = [event_row(run_id, _event(n)) for n in range(start, min(start + BATCH, EVENTS + 1))]
        with session_scope() as session:
            store_events(session, run_id, rows)
    return run_id


def queries(run_id: int) -> dict[str, tuple[str, dict[str, object], int | None]]:
    """Name → (path, parameters, target in ms or None for information only)."""
    search, events = f"/runs/{run_id}/events/search", f"/runs/{run_id}/events"
    return {
        "search, rare text (3 hits; whole run read)": (search, {"q": RARE}, SEARCH_TARGET_MS),
        "search, common text (1,000+ hits)": (search, {"q": "[web3]"}, SEARCH_TARGET_MS),
        "search, next page of a common text": (search, {"q": "[web3]", "after": 60_000}, SEARCH_TARGET_MS),
        "search, text + host filter": (search, {"q": "changed", "host": "web7"}, SEARCH_TARGET_MS),
        "events, one host (a page of 200)": (events, {"host": "web4", "before": 2**31 - 1}, PAGE_TARGET_MS),
        "events, first failure (status, limit=1)": (
            events,
            {"status": "failed,unreachable", "limit": 1},
            PAGE_TARGET_MS,
        ),
        "events, changed only (a page of 1,000)": (events, {"status": "changed", "limit": 1000}, None),
    }


def measure(stack: Stack, path: str, params: dict[str, object]) -> list[float]:
    url = f"{stack.api}{path}?{urlencode(params)}"
    latencies = []
    for attempt in range(WARMUP + REQUESTS):
        started = time.perf_counter()
        response = stack.http.get(url, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        if attempt >= WARMUP:
            latencies.append(elapsed)
    return latencies


def run() -> list[Row]:
    rows: list[Row] = []
    with Stack("production", worker=False) as stack:
        started = time.perf_counter()
        run_id = seed()
        seeded = time.perf_counter() - started
        found = stack.http.get(f"{stack.api}/runs/{run_id}/events/search", params={"q": RARE}, timeout=30).json()
        assert found["total"] == len(RARE_AT), found  # the benchmark measures a search that works
        for name, (path, params, target) in queries(run_id).items():
            latencies = measure(stack, path, params)
            rows.append(
                Row(
                    f"logs p95: {name}",
                    percentile(latencies, 0.95),
                    "ms",
                    target,
                    note=f"{EVENTS:,}-event run (seeded in {seeded:.0f} s), 1 client, n={len(latencies)}, "
                    f"median {percentile(latencies, 0.5):.0f} ms, max {max(latencies):.0f} ms; load {loadavg()}",
                )
            )
    return rows


if __name__ == "__main__":
    from bench.harness import print_table

    print_table(run())
