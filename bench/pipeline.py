"""Deploy pipeline benchmarks (issue 2): dispatch latency and overhead over bare ansible-runner.

Dispatch latency: POST /api/v1/runs accepted → ``running`` recorded by the worker, on an idle worker,
sequentially, over ``--runs`` runs. Two clocks are reported: from the API's ``queued_at`` (the moment
the request was accepted and recorded) and from the client's send time (includes HTTP).

Overhead ratio: a Playdeck run (API call → terminal state recorded) over a bare ``ansible_runner.run``
of the same playbook (10 tasks × 5 local hosts), measured alternately in this one process; ratio of
medians.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import ansible_runner

from bench.harness import BENCH_DIR, Row, Stack, median, percentile, utcnow


def dispatch_latency(stack: Stack, runs: int, warmup: int = 3) -> tuple[list[float], list[float]]:
    from_api, from_client = [], []
    for i in range(warmup + runs):
        sent = utcnow()
        run_id = stack.deploy("trivial")
        run = stack.wait_finished(run_id)
        if run.state != "successful":
            raise RuntimeError(f"run {run_id} ended {run.state}: {run.reason}")
        if i >= warmup:
            from_api.append((run.started_at - run.queued_at).total_seconds() * 1000)
            from_client.append((run.started_at - sent).total_seconds() * 1000)
    return from_api, from_client


def bare_run(workdir: Path, index: int, playbook: str = "ten_tasks.yml", inventory: str = "local5.ini") -> float:
    private_dir = workdir / f"bare-{index}"
    private_dir.mkdir()
    started = time.perf_counter()
    result = ansible_runner.run(
        private_data_dir=str(private_dir),
        project_dir=str(BENCH_DIR / "playbooks"),
        playbook=playbook,
        inventory=str(BENCH_DIR / "inventory" / inventory),
        extravars={"playdeck_run_id": index},
        envvars={"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
        quiet=True,
        cancel_callback=lambda: False,
    )
    elapsed = time.perf_counter() - started
    if result.status != "successful":
        raise RuntimeError(f"bare run ended {result.status}")
    return elapsed


def playdeck_run(stack: Stack) -> float:
    sent = utcnow()
    run = stack.wait_finished(stack.deploy("tentasks"))
    if run.state != "successful":
        raise RuntimeError(f"run {run.id} ended {run.state}: {run.reason}")
    return (run.finished_at - sent).total_seconds()


def overhead_ratio(stack: Stack, pairs: int) -> tuple[float, float]:
    bare, playdeck = [], []
    with tempfile.TemporaryDirectory(prefix="playdeck-bare-") as workdir:
        bare_run(Path(workdir), -1)  # warm the page cache and ansible's plugin loading
        playdeck_run(stack)
        for i in range(pairs):
            bare.append(bare_run(Path(workdir), i))
            playdeck.append(playdeck_run(stack))
    return median(bare), median(playdeck)


def run(runs: int = 40, pairs: int = 7, modes: tuple[str, ...] = ("production", "embedded")) -> list[Row]:
    rows: list[Row] = []
    for mode in modes:
        with Stack(mode) as stack:
            from_api, from_client = dispatch_latency(stack, runs)
            label = "MariaDB+Redis" if mode == "production" else "embedded SQLite+filesystem"
            n = f"n={len(from_api)}"
            if mode == "production":
                rows += [
                    Row(f"dispatch median, accepted→running ({label})", median(from_api), "ms", 40, note=n),
                    Row(f"dispatch p95, accepted→running ({label})", percentile(from_api, 0.95), "ms", 100, note=n),
                    Row(f"dispatch median, client send→running ({label})", median(from_client), "ms", 40, note=n),
                    Row(f"dispatch p95, client send→running ({label})", percentile(from_client, 0.95), "ms", 100),
                ]
                bare, playdeck = overhead_ratio(stack, pairs)
                rows.append(
                    Row(
                        "overhead ratio playdeck/bare (10 tasks × 5 hosts)",
                        playdeck / bare,
                        "x",
                        1.05,
                        note=f"medians of {pairs}: bare {bare:.2f}s, playdeck {playdeck:.2f}s",
                    )
                )
            else:
                rows += [
                    Row(f"dispatch median, accepted→running ({label})", median(from_api), "ms", 250, note=n),
                    Row(f"dispatch median, client send→running ({label})", median(from_client), "ms", 250),
                ]
    return rows
