"""Footprint (issue 7, target 5): resident memory of an idle worker and of a fresh web process.

A production stack (``playdeck worker --concurrency 2``, ``playdeck web``) after one trivial run and
``IDLE_SECONDS`` of rest; RSS read from /proc. Worker: the Celery master plus each pool child (the
target applies to each process); web: each gunicorn worker. The web workers' RSS after the scale
load is reported by the scale benchmark.
"""

from __future__ import annotations

import time

from bench.harness import Row, Stack, children, loadavg, rss_mb

IDLE_SECONDS = 5


def run() -> list[Row]:
    with Stack("production", worker_concurrency=2) as stack:
        stack.wait_finished(stack.deploy("trivial"))
        time.sleep(IDLE_SECONDS)
        master, pool = stack.worker.pid, children(stack.worker.pid)
        web_workers = children(stack.web.pid)
        worker_rss = {pid: rss_mb(pid) for pid in [master, *pool]}
        web_rss = {pid: rss_mb(pid) for pid in web_workers}
        load = loadavg()
    pool_note = ", ".join(f"{worker_rss[pid]:.0f}" for pid in pool)
    return [
        Row(
            "footprint: idle Celery worker master RSS",
            worker_rss[master],
            "MB",
            150,
            note=f"after 1 run + {IDLE_SECONDS} s idle; load {load}",
        ),
        Row(
            "footprint: idle Celery pool child RSS (max)",
            max(worker_rss[pid] for pid in pool),
            "MB",
            150,
            note=f"{len(pool)} children: {pool_note} MB; master + children {sum(worker_rss.values()):.0f} MB",
        ),
        Row(
            "footprint: fresh gunicorn web worker RSS (max)",
            max(web_rss.values()),
            "MB",
            150,
            note=f"{len(web_rss)} workers: {', '.join(f'{v:.0f}' for v in web_rss.values())} MB",
        ),
    ]
