"""The fault matrix (issue 3): which test plays which scenario, and one JSON line per scenario run.

Each scenario test ends with ``fault_report.record(n, run_ids, ...)``. With ``PLAYDECK_FAULT_REPORT``
set to a file, that appends what a user would check after the fault: how the runs ended, whether every
event ansible-runner produced is stored (once), whether any run executed twice, and whether any of
the runs' processes is still alive. Unset (a plain pytest run), it does nothing. ``python -m
bench.faults`` runs exactly the tests listed in ``SCENARIOS`` and turns the lines into a table.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from playdeck import db
from playdeck.models import Run, RunEvent
from playdeck.settings import get_settings

REPORT_ENV = "PLAYDECK_FAULT_REPORT"


@dataclass(frozen=True)
class Scenario:
    title: str
    tests: tuple[str, ...]  # pytest node ids, from the repository root


SCENARIOS: dict[int, Scenario] = {
    1: Scenario(
        "supervisorctl restart of the deploy worker while 3 deploys run",
        ("tests/cli/test_warm_restart.py::test_restart_waits_for_running_deploys_and_runs_none_twice",),
    ),
    2: Scenario(
        "same restart with stopwaitsecs=10: SIGKILL mid-run, then broker redelivery",
        ("tests/cli/test_warm_restart.py::test_restart_that_kills_after_stopwaitsecs_loses_runs_without_rerun",),
    ),
    3: Scenario(
        "pool process SIGKILLed mid-run",
        ("tests/runners/test_orphans.py::test_killed_pool_process_run_ends_lost_no_orphan_no_rerun",),
    ),
    4: Scenario(
        "worker master and pool SIGKILLed mid-run",
        ("tests/runners/test_reaper.py::test_killed_worker_master_run_is_lost_within_the_bound",),
    ),
    5: Scenario("worker idle past MariaDB's wait_timeout (gone away)", ("tests/runners/test_gone_away.py",)),
    6: Scenario("MariaDB restarted mid-run", ("tests/runners/test_db_restart.py",)),
    7: Scenario("Redis restarted mid-run, 2 runs queued behind it", ("tests/runners/test_redis_restart.py",)),
    8: Scenario("web restarted while a client streams the run", ("tests/cli/test_web_restart_stream.py",)),
    9: Scenario(
        "one run's message delivered 3 times",
        ("tests/runners/test_worker.py::test_duplicate_delivery_executes_the_run_once",),
    ),
}


def produced_events(run_id: int) -> int:
    """Events ansible-runner produced for the run's latest attempt: the highest counter in its artifacts
    (counters start at 1 and have no gaps)."""
    attempts = sorted(
        (get_settings().runs_dir / str(run_id)).glob("attempt-*"), key=lambda path: int(path.name.split("-")[1])
    )
    if not attempts:
        return 0  # never started
    job_events = attempts[-1] / "artifacts" / "artifacts" / "job_events"
    # <uuid>-partial.json files are ansible-runner's half of an event still being written.
    finished = (path for path in job_events.glob("*.json") if not path.name.endswith("-partial.json"))
    return max((json.loads(path.read_text())["counter"] for path in finished), default=0)


def executions(marker: Path | None) -> list[str]:
    """The lines of a ``marker.yml`` file, sorted: "<run id> <host>" each time a run really ran on a host."""
    return sorted(marker.read_text().split("\n")[:-1]) if marker and marker.exists() else []


def extra_executions(marker: Path | None, run_ids: list[int], attempts: dict[int, int]) -> int:
    """Executions beyond the first, per run: more than one claim, or a host in the marker file twice."""
    lines = Counter(executions(marker))
    extra = 0
    for run_id in run_ids:
        per_host = [count - 1 for line, count in lines.items() if line.split(" ")[0] == str(run_id)]
        extra += max(attempts.get(run_id, 0) - 1, max(per_host, default=0))
    return extra


def record(scenario: int, run_ids: Iterable[int], marker: Path | None = None) -> None:
    """Append this scenario's outcome to ``$PLAYDECK_FAULT_REPORT``; a no-op when it is unset."""
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    # Imported here: a plain test run without the report never scans the process table.
    from runners import orphans

    run_ids = sorted(run_ids)
    with db.session_scope() as session:
        rows = session.execute(select(Run.id, Run.state, Run.attempt).where(Run.id.in_(run_ids))).all()
        # (run, counter) is unique in the schema; an event stored twice would show as a repeated uuid.
        per_run = session.execute(
            select(func.count(), func.count(func.distinct(RunEvent.uuid)))
            .where(RunEvent.run_id.in_(run_ids))
            .group_by(RunEvent.run_id)
        ).all()
    alive = orphans.run_processes()
    line = {
        "scenario": scenario,
        "title": SCENARIOS[scenario].title,
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0],
        "runs": len(run_ids),
        "states": dict(sorted(Counter(row.state for row in rows).items())),
        "events_expected": sum(produced_events(run_id) for run_id in run_ids),
        "events_persisted": sum(stored for stored, _ in per_run),
        "duplicate_events": sum(stored - distinct for stored, distinct in per_run),
        "extra_executions": extra_executions(marker, run_ids, {row.id: row.attempt for row in rows}),
        "orphans": sum(len(alive.get(run_id, [])) for run_id in run_ids),
    }
    with open(path, "a") as report:
        report.write(json.dumps(line) + "\n")
