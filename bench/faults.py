"""``python -m bench.faults``: the fault matrix of issue 3, one row per scenario.

Runs exactly the tests listed in ``testing/fault_report.py`` (real supervisord, Celery workers, MariaDB,
Redis and playbooks), each in its own pytest process with ``PLAYDECK_FAULT_REPORT`` set, and prints a
markdown table built from the lines they record: runs started, final states, events produced by
ansible-runner vs stored, duplicates, processes left behind, and whether the test passed.

Scenarios run in ``--lanes`` parallel pytest processes (default 2, one per core here); each lane has a
private redis-server, so lanes never flush each other's broker databases. Needs MariaDB on
127.0.0.1:3306 (``scripts/test`` starts it). Each scenario's pytest output, the JSON lines and the
table are kept in ``bench/results/faults/``; a failed scenario's pytest folder, under the temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.harness import BENCH_DIR, REPO_ROOT, free_port
from testing.fault_report import REPORT_ENV, SCENARIOS
from testing.servers import ThrowawayRedis

RESULTS = BENCH_DIR / "results" / "faults"
# Longest first, so that two lanes finish at about the same time (measured durations, seconds).
EXPECTED_SECONDS = {8: 180, 6: 165, 1: 80, 2: 75, 4: 70, 7: 45, 5: 40, 3: 30, 9: 25}
SCENARIO_TIMEOUT = 900
TOTALS = ("runs", "events_expected", "events_persisted", "duplicate_events", "extra_executions", "orphans")


@dataclass
class Outcome:
    scenario: int
    passed: bool
    seconds: float
    log: Path


def run_scenario(number: int, redis_url: str, report: Path, scratch: Path) -> Outcome:
    # Short: `playdeck up` puts supervisord's unix socket in there, and such paths are limited.
    folder = scratch / f"s{number}"
    log = RESULTS / f"scenario-{number}.log"
    # Only what this run sets: a PLAYDECK_* left in the caller's shell must not change the scenario.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLAYDECK_")}
    env.update({REPORT_ENV: str(report), "PLAYDECK_TEST_REDIS_URL": redis_url})
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={folder}"]
    started = time.monotonic()
    with log.open("wb") as output:
        try:
            result = subprocess.run(
                [*command, *SCENARIOS[number].tests],
                cwd=REPO_ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=SCENARIO_TIMEOUT,
            )
            passed = result.returncode == 0
        except subprocess.TimeoutExpired:
            passed = False
    if passed:
        shutil.rmtree(folder, ignore_errors=True)  # a failed scenario's folder is kept to look into
    return Outcome(number, passed, time.monotonic() - started, log)


def run_lanes(numbers: list[int], lanes: int, report: Path, scratch: Path) -> list[Outcome]:
    todo: queue.Queue[int] = queue.Queue()
    for number in sorted(numbers, key=lambda n: -EXPECTED_SECONDS.get(n, 60)):
        todo.put(number)
    outcomes: list[Outcome] = []

    def lane(index: int) -> None:
        base = scratch / f"redis-lane-{index}"
        base.mkdir()
        broker = ThrowawayRedis(base, free_port()).start()
        try:
            while True:
                try:
                    number = todo.get_nowait()
                except queue.Empty:
                    return
                outcome = run_scenario(number, f"redis://127.0.0.1:{broker.port}", report, scratch)
                outcomes.append(outcome)
                print(f"  #{number} {'passed' if outcome.passed else 'FAILED'} in {outcome.seconds:.0f} s", flush=True)
        finally:
            broker.stop()

    threads = [threading.Thread(target=lane, args=(index,)) for index in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes, key=lambda outcome: outcome.scenario)


def read_report(report: Path) -> dict[int, list[dict]]:
    rows: dict[int, list[dict]] = defaultdict(list)
    if report.exists():
        for line in report.read_text().splitlines():
            row = json.loads(line)
            rows[row["scenario"]].append(row)
    return rows


def table(outcomes: list[Outcome], rows: dict[int, list[dict]]) -> str:
    lines = [
        "| # | scenario | runs started | final states | events expected/persisted | duplicates (events/executions)"
        " | orphans | time | result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        recorded = rows.get(outcome.scenario, [])
        title = SCENARIOS[outcome.scenario].title
        if recorded:
            states: dict[str, int] = defaultdict(int)
            for row in recorded:
                for state, count in row["states"].items():
                    states[state] += count
            total = {key: sum(row[key] for row in recorded) for key in TOTALS}
            cells = [
                str(total["runs"]),
                ", ".join(f"{count} {state}" for state, count in sorted(states.items())),
                f"{total['events_expected']}/{total['events_persisted']}",
                f"{total['duplicate_events']}/{total['extra_executions']}",
                str(total["orphans"]),
            ]
        else:
            cells = ["—"] * 5  # the test failed before its end, where it records
        result = "pass" if outcome.passed else f"**FAIL** ({outcome.log.relative_to(REPO_ROOT)})"
        lines.append(f"| {outcome.scenario} | {title} | {' | '.join(cells)} | {outcome.seconds:.0f} s | {result} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lanes", type=int, default=2, help="scenarios run at the same time (default 2)")
    parser.add_argument("scenarios", nargs="*", type=int, help="scenario numbers (default: all)")
    args = parser.parse_args()
    numbers = args.scenarios or sorted(SCENARIOS)
    unknown = set(numbers) - set(SCENARIOS)
    if unknown:
        parser.error(f"no such scenario: {', '.join(map(str, sorted(unknown)))} (known: 1-{max(SCENARIOS)})")

    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    report = RESULTS / "report.jsonl"
    scratch = Path(tempfile.mkdtemp(prefix="playdeck-faults-"))
    started = time.monotonic()
    print(f"Fault matrix: {len(numbers)} scenarios in {args.lanes} lanes; logs in {RESULTS}", flush=True)
    outcomes = run_lanes(numbers, max(1, args.lanes), report, scratch)
    if all(outcome.passed for outcome in outcomes):
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"Failed scenarios' pytest folders: {scratch}")
    text = table(outcomes, read_report(report))
    (RESULTS / "table.md").write_text(text + "\n")
    print()
    print(text)
    print(f"\n{sum(o.passed for o in outcomes)}/{len(outcomes)} passed in {time.monotonic() - started:.0f} s")
    return 0 if all(outcome.passed for outcome in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
