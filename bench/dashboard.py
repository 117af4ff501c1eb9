"""``python -m bench dashboard`` (issue 23): the dashboard of 50 projects × 5 environments, p95 ≤ 100 ms.

A stack on MariaDB (``bench.harness.Stack``: ``playdeck web``, no worker) with 50 projects of 5 environments
each (beside the stack's own two), each environment with a history: ``RUNS_PER_ENVIRONMENT`` runs (mostly
successful deploys of increasing versions, some failed or canceled, now and then a check run), each run's
host recap over ``HOSTS`` hosts, what each host runs now (``host_deployments``), a run going on in a few
environments, and freeze windows (global weekly ones, and ad hoc ones on some production environments),
since the dashboard shows the latest and deployed run, the hosts' versions and the freeze status of every
environment. One client asks for ``/`` one request after the other (what a person waits for): p50 and p95
of ``REQUESTS`` after a warm-up.
"""

from __future__ import annotations

import datetime as dt
import time

from bench.freeze import page_latencies
from bench.harness import Row, Stack, loadavg, median, percentile, utcnow

PROJECTS = 50
ENVIRONMENTS = ("dev", "test", "staging", "preprod", "prod")
RUNS_PER_ENVIRONMENT = 20
HOSTS = 4
GLOBAL_WINDOWS = 5
TARGET_MS = 100.0
STATES = ("successful",) * 7 + ("failed", "canceled", "successful")


def _history(project_id: int, environment_id: int, number: int, now: dt.datetime) -> list[object]:
    """One environment's runs (with their host recaps) and what its hosts run now."""
    from playdeck.models import HostDeployment, Run, RunHostSummary

    rows: list[object] = []
    for index in range(RUNS_PER_ENVIRONMENT):
        queued = now - dt.timedelta(hours=(RUNS_PER_ENVIRONMENT - index) * 6, minutes=number)
        state = "running" if index == RUNS_PER_ENVIRONMENT - 1 and number % 17 == 0 else STATES[index % 10]
        run = Run(project_id=project_id, environment_id=environment_id, version=f"1.{index}.0", state=state,
                  requested_by="bench", check_mode=index % 9 == 4, queued_at=queued, started_at=queued,
                  finished_at=None if state == "running" else queued + dt.timedelta(minutes=3),
                  event_count=120)  # fmt: skip
        run.host_summaries = [
            RunHostSummary(
                host=f"host{h}",
                ok=20,
                changed=3,
                failed=int(state == "failed" and h == 0),
                deployed_version=run.version if state == "successful" else None,
            )  # fmt: skip
            for h in range(HOSTS)
        ]
        rows.append(run)
    rows += [
        HostDeployment(
            environment_id=environment_id,
            host=f"host{h}",
            version=f"1.{RUNS_PER_ENVIRONMENT - 2}.0",
            run_id=0,
            updated_at=now,
        )  # fmt: skip
        for h in range(HOSTS)
    ]
    return rows


def seed(stack: Stack) -> None:
    from playdeck import db, projects
    from playdeck.release_control import freeze_windows

    for number in range(PROJECTS):
        stack.register_project(f"app{number:02d}", "trivial.yml", {env: "local1.ini" for env in ENVIRONMENTS})
    now = utcnow()
    for number in range(PROJECTS):
        with db.session_scope() as session:
            project = projects.get_project(session, f"app{number:02d}")
            for environment in project.environments:
                session.add_all(_history(project.id, environment.id, number, now))
    with db.session_scope() as session:
        for day in ("Sat", "Sun", "Fri", "Mon", "Wed")[:GLOBAL_WINDOWS]:
            fields = {"name": f"weekly {day}", "kind": "weekly", "start": f"{day} 22:00", "end": f"{day} 23:00"}
            freeze_windows.create_window(session, fields | {"reason": "bench"}, who="bench")
        start = now + dt.timedelta(days=3)
        for number in range(0, PROJECTS, 5):
            freeze_windows.create_window(
                session,
                {
                    "name": "release freeze",
                    "kind": "adhoc",
                    "start": f"{start:%Y-%m-%d} 08:00",
                    "end": f"{start:%Y-%m-%d} 18:00",
                    "reason": "bench",
                    "project": f"app{number:02d}",
                    "environment": "prod",
                },  # fmt: skip
                who="bench",
            )


def run() -> list[Row]:
    with Stack("production", worker=False) as stack:
        started = time.perf_counter()
        seed(stack)
        seeded = time.perf_counter() - started
        page = stack.http.get(f"http://127.0.0.1:{stack.port}/", timeout=30)
        page.raise_for_status()
        assert "app49" in page.text, "the dashboard lists every project"
        timings = page_latencies(stack, "/")
    note = (
        f"{PROJECTS} projects × {len(ENVIRONMENTS)} environments, {RUNS_PER_ENVIRONMENT} runs and {HOSTS} hosts "
        f"each (seeded in {seeded:.0f} s); 1 client, n={len(timings)}, max {max(timings):.0f} ms; load {loadavg()}"
    )
    return [
        Row("dashboard: 50 projects × 5 environments p50", median(timings), "ms", None, note=note),
        Row("dashboard: 50 projects × 5 environments p95", percentile(timings, 0.95), "ms", TARGET_MS, note=note),
    ]


if __name__ == "__main__":
    from bench.harness import print_table

    print_table(run())
