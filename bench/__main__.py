"""``python -m bench [NAME ...]``: run benchmarks against real services and print one table.

Names: pipeline (issue 2: dispatch latency, overhead ratio), ingest, sse, scale, drain, footprint,
retention (issue 7), git (issue 22), freeze and approvals (issue 24), logs (issue 23: log search over a 200k-event
run), watchers (issue 23: live log, 200 browsers' streams), dashboard (issue 23: 50 projects × 5 environments),
tabs (issue 23, needs Debian's chromium), schedules (issue 25), sso (issue 26: the OpenID Connect callback), ldap
(issue 26: a directory login, needs Debian's slapd), dns (issue 5, needs BIND). No name: every one but dns (``--dns``
adds it).
Needs MariaDB on 127.0.0.1:3306 (as ``scripts/test`` starts it) and the redis-server program: each stack
starts a Redis of its own, so benchmarks of two checkouts may run at once. Every
row's note carries the load average it was measured at: numbers from a busy machine are not results.

``scale`` and ``retention`` seed ``bench_scale`` (100k runs, 10M events) once, ~15 min, and reuse it;
the recorded event stream for ``ingest`` and the 200 MB repository of ``git`` (with its mirror) are cached in
~/.cache/playdeck-bench (made when absent).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

from bench import dns, pipeline
from bench.harness import BENCH_DIR, Row, loadavg, machine_speed, print_table

ISSUE_7 = ("ingest", "sse", "scale", "drain", "footprint", "retention")
ISSUE_23 = ("logs", "watchers", "dashboard", "tabs")
NAMES = ("pipeline", *ISSUE_7, "git", "freeze", "approvals", *ISSUE_23, "schedules", "sso", "ldap", "dns")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(NAMES))
    parser.add_argument("--runs", type=int, default=40, help="runs per dispatch-latency sample (default 40)")
    parser.add_argument("--pairs", type=int, default=7, help="bare/playdeck pairs for the overhead ratio")
    parser.add_argument("--mode", choices=["production", "embedded"], action="append", help="default: both")
    parser.add_argument("--dns", action="store_true", help="also the DNS benchmark (issue 5), with its defaults")
    parser.add_argument("--drain-runs", type=int, default=1000, help="queued runs for the drain (default 1000)")
    parser.add_argument("--scale-seconds", type=float, default=10, help="load per endpoint (default 10 s)")
    parser.add_argument("--git-checkouts", type=int, default=5, help="checkouts of the 200 MB repository (default 5)")
    parser.add_argument("--git-pairs", type=int, default=20, help="git/directory deploy pairs (default 20)")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    logging.basicConfig(level=logging.WARNING)
    names = args.names or [name for name in NAMES if name != "dns" or args.dns]
    if args.dns and "dns" not in names:
        names.append("dns")

    rows: list[Row] = [machine_speed()]
    started = time.monotonic()
    for name in names:
        try:
            rows += run_one(name, args)
        except Exception as error:  # one broken benchmark must not lose the rows the others measured
            logging.exception("benchmark %s did not complete", name)
            rows.append(Row(f"{name}: did not complete", math.nan, "", 0.0, note=f"{type(error).__name__}: {error}"))
    print_table(rows)
    print(f"\n{time.monotonic() - started:.0f} s; load average now {loadavg()}")
    results = BENCH_DIR / "results"
    results.mkdir(exist_ok=True)
    Path(results / "latest.json").write_text(json.dumps([asdict(r) | {"passed": r.passed} for r in rows], indent=2))
    return 0 if all(r.passed for r in rows) else 1


# Rows whose module's run() takes no options: the module has the row's name (imported only when asked for).
PLAIN = (
    "footprint",
    "tabs",
    "schedules",
    "retention",
    "freeze",
    "logs",
    "watchers",
    "dashboard",
    "ingest",
    "sso",
    "ldap",
)


def run_one(name: str, args: argparse.Namespace) -> list[Row]:
    # Imported here: each module pulls in what only it needs.
    if name in PLAIN:
        return importlib.import_module(f"bench.{name}").run()
    if name == "pipeline":
        return pipeline.run(runs=args.runs, pairs=args.pairs, modes=tuple(args.mode or ("production", "embedded")))
    if name == "dns":
        return dns.run()
    if name == "sse":
        from bench import live

        return live.run()
    if name == "scale":
        from bench import scale

        rows, web_footprint = scale.run(seconds=args.scale_seconds)
        return rows + web_footprint
    if name == "drain":
        from bench import drain

        return drain.run(runs=args.drain_runs)
    if name == "git":
        from bench import git

        return git.run(checkouts=args.git_checkouts, pairs=args.git_pairs)
    if name == "approvals":
        from bench import approvals

        return approvals.run(seconds=args.scale_seconds)
    raise ValueError(name)


if __name__ == "__main__":
    raise SystemExit(main())
