"""``python -m bench freeze`` (issue 24): freeze windows at scale.

A stack on MariaDB (``bench.harness.Stack``: ``playdeck web``, no worker) with 11 projects, 29 environments, and
1,000 windows: 300 global ones and 700 on ``trivial``'s environment, so its deploy form weighs every one of
them, and the dashboard evaluates all 1,000 for 29 environments. They are a realistic mix that leaves gaps
(a calendar with none is bounded by ``freeze_calendar.CHAIN_HORIZON``): 600 one-hour ad hoc freezes spread
over the next two years, 200 one-day yearly ones, 200 twenty-minute weekly ones in four zones.

Measured by one client, one request after the other (what a person waits for), before the windows exist
and with them: the deploy form and the dashboard, p50 and p95 of ``REQUESTS`` each after a warm-up; and in
this process what the freeze rule costs a deploy (``freeze_rule.check``: reading the windows and evaluating
them, inside a transaction as ``request_run`` runs it).
"""

from __future__ import annotations

import datetime as dt
import random
import time

from bench.harness import Row, Stack, loadavg, median, percentile

REQUESTS = 200
WARM_UP = 20
CHECKS = 200
TARGET_MS = 100.0
# Beside the stack's own two projects (trivial, tentasks: one environment each): 29 environments in all.
APPS = 9
ENVIRONMENTS = ("dev", "staging", "prod")
GLOBAL_WINDOWS, OWN_WINDOWS = 300, 700
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def window_fields(number: int, rng: random.Random, now: dt.datetime) -> dict[str, str]:
    """The ``number``-th window of the mix (ad hoc, yearly, weekly as 3 : 1 : 1)."""
    zone = ZONES[number % len(ZONES)]
    kind = ("adhoc", "adhoc", "adhoc", "yearly", "weekly")[number % 5]
    if kind == "adhoc":
        start = now + dt.timedelta(hours=rng.randrange(1, 2 * 365 * 24))
        span = (f"{start:%Y-%m-%d %H:00}", f"{start + dt.timedelta(hours=1):%Y-%m-%d %H:00}")
    elif kind == "yearly":
        month, day = rng.randrange(12), rng.randrange(1, 28)
        span = (f"{MONTHS[month]} {day}", f"{MONTHS[month]} {day + 1}")
    else:
        day, minute = rng.randrange(7), rng.randrange(0, 23 * 60, 20)
        span = tuple(f"{DAYS[day]} {at // 60:02d}:{at % 60:02d}" for at in (minute, minute + 20))
    return {"name": f"window {number}", "kind": kind, "timezone": zone, "start": span[0], "end": span[1],
            "reason": "bench"}  # fmt: skip


def add_windows(project: str, environment: str) -> None:
    """The 1,000 windows of the mix: ``GLOBAL_WINDOWS`` global ones, ``OWN_WINDOWS`` on one environment."""
    from playdeck import db
    from playdeck.release_control import freeze_windows

    rng, now = random.Random(24), dt.datetime.now(dt.UTC)
    with db.session_scope() as session:
        for number in range(GLOBAL_WINDOWS + OWN_WINDOWS):
            fields = window_fields(number, rng, now)
            if number >= GLOBAL_WINDOWS:
                fields |= {"project": project, "environment": environment}
            freeze_windows.create_window(session, fields, who="bench")


def seed(stack: Stack) -> None:
    for number in range(APPS):
        stack.register_project(f"app{number}", "trivial.yml", {env: "local1.ini" for env in ENVIRONMENTS})
    add_windows("trivial", "local")


def page_latencies(stack: Stack, path: str) -> list[float]:
    url = f"http://127.0.0.1:{stack.port}{path}"
    for _ in range(WARM_UP):
        stack.http.get(url, timeout=30).raise_for_status()
    timings = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        stack.http.get(url, timeout=30).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def check_costs() -> tuple[list[float], list[float], bool]:
    """``freeze_rule.check`` for a deploy of trivial/local, each in its own transaction: wall time, this
    process's CPU time (what a busy machine does not inflate), and whether it was frozen."""
    from playdeck import db, projects
    from playdeck.errors import Conflict
    from playdeck.release_control import freeze_rule
    from playdeck.runs.run_request import RunRequest

    request = RunRequest(project="trivial", environment="local", requested_by="bench")
    timings, cpu, frozen = [], [], False
    for _ in range(CHECKS):
        started, cpu_started = time.perf_counter(), time.process_time()
        with db.session_scope() as session:
            project = projects.get_project(session, "trivial")
            try:
                freeze_rule.check(session, request, project, projects.get_environment(project, "local"))
            except Conflict:
                frozen = True
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return timings, cpu, frozen


def _rows(label: str, timings: list[float], target: float | None, note: str) -> list[Row]:
    return [
        Row(f"freeze: {label} p50", median(timings), "ms", None, note=note),
        Row(f"freeze: {label} p95", percentile(timings, 0.95), "ms", target, note=note),
    ]


def run() -> list[Row]:
    pages = {
        "deploy form (700 own + 300 global windows)": "/projects/trivial/deploy",
        "dashboard (29 environments)": "/",
    }
    with Stack("production", worker=False) as stack:
        baseline = {label: page_latencies(stack, path) for label, path in pages.items()}
        seed(stack)
        rows: list[Row] = []
        for label, path in pages.items():
            note = f"1 client, {REQUESTS} requests; without windows p95 {percentile(baseline[label], 0.95):.1f} ms"
            rows += _rows(label, page_latencies(stack, path), TARGET_MS, f"{note}; load {loadavg()}")
        costs, cpu, frozen = check_costs()
        state = "frozen now: refused with its message" if frozen else "not frozen now"
        rows += _rows("admission check per deploy (1,000 windows)", costs, None,
                      f"read + evaluate in a transaction, {CHECKS} checks; {state}; load {loadavg()}")  # fmt: skip
        cpu_note = "this process's CPU time alone (the driver parsing rows included, MariaDB's not)"
        rows.append(Row("freeze: admission check per deploy, CPU p50", median(cpu), "ms", None, note=cpu_note))
    return rows
