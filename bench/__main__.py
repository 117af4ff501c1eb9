"""``python -m bench``: run every benchmark against real services and print one table.

Needs MariaDB on 127.0.0.1:3306 and Redis on 127.0.0.1:6379 (as ``scripts/test`` starts them); ``--dns``
needs BIND (named, rndc, named-checkzone) too. The DNS benchmark alone, with its options: python -m bench.dns.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path

from bench import dns, pipeline
from bench.harness import BENCH_DIR, print_table


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--runs", type=int, default=40, help="runs per dispatch-latency sample (default 40)")
    parser.add_argument("--pairs", type=int, default=7, help="bare/playdeck pairs for the overhead ratio")
    parser.add_argument("--mode", choices=["production", "embedded"], action="append", help="default: both")
    parser.add_argument("--dns", action="store_true", help="also the DNS benchmark (issue 5), with its defaults")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    rows = pipeline.run(runs=args.runs, pairs=args.pairs, modes=tuple(args.mode or ("production", "embedded")))
    if args.dns:
        rows += dns.run()
    print_table(rows)
    results = BENCH_DIR / "results"
    results.mkdir(exist_ok=True)
    Path(results / "latest.json").write_text(json.dumps([asdict(r) | {"passed": r.passed} for r in rows], indent=2))
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
