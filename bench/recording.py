"""A recorded event stream of a large real run, for replaying through the persistence path.

The run: bench/playbooks/many_events.yml over many ``ansible_connection=local`` hosts of a generated
inventory (strategy free, 50 forks), through ansible-runner with an event handler that keeps every
event dict exactly as ansible-runner hands it to Playdeck's EventPump. Cached gzipped JSON lines in
``~/.cache/playdeck-bench`` (re-recorded when absent); ``python -m bench.recording`` records anew.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import BENCH_DIR

CACHE_DIR = Path(os.environ.get("PLAYDECK_BENCH_CACHE", Path.home() / ".cache" / "playdeck-bench"))
RECORD_HOSTS = 400
RECORD_ITEMS = 100  # 5 looped tasks × 100 items × 400 hosts ≈ 200k item events, plus task/host events
FORKS = 50


def write_inventory(directory: Path, hosts: int) -> Path:
    """``localN.ini``: N hosts that all run on this machine."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"local{hosts}.ini"
    path.write_text(
        f"[app]\nlocal[1:{hosts}]\n\n[all:vars]\nansible_connection=local\n"
        "ansible_python_interpreter={{ ansible_playbook_python }}\n"
    )
    return path


def recording_path(hosts: int = RECORD_HOSTS, items: int = RECORD_ITEMS) -> Path:
    return CACHE_DIR / f"events-many_events-{hosts}h-{items}i.jsonl.gz"


def record(hosts: int = RECORD_HOSTS, items: int = RECORD_ITEMS) -> Path:
    import ansible_runner

    target = recording_path(hosts, items)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_suffix(".tmp")
    started = time.monotonic()
    count = 0
    with tempfile.TemporaryDirectory(prefix="playdeck-record-") as workdir, gzip.open(staging, "wt") as out:

        def keep(event: dict[str, Any]) -> bool:
            nonlocal count
            out.write(json.dumps(event, default=str) + "\n")
            count += 1
            return False  # no artifact file per event: 200k small files would only slow the recording

        inventory = write_inventory(Path(workdir) / "inventory", hosts)
        (Path(workdir) / "private").mkdir()
        result = ansible_runner.run(
            private_data_dir=str(Path(workdir) / "private"),
            project_dir=str(BENCH_DIR / "playbooks"),
            playbook="many_events.yml",
            inventory=str(inventory),
            extravars={"bench_items": items},
            forks=FORKS,
            envvars={"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
            event_handler=keep,
            quiet=True,
        )
        if result.status != "successful":
            raise RuntimeError(f"recording run ended {result.status}")
    staging.replace(target)
    print(f"recorded {count} events in {time.monotonic() - started:.0f} s: {target}", file=sys.stderr)
    return target


def load(hosts: int = RECORD_HOSTS, items: int = RECORD_ITEMS) -> list[dict[str, Any]]:
    """The recorded events in the order ansible-runner produced them (recorded first when absent)."""
    path = recording_path(hosts, items)
    if not path.exists():
        record(hosts, items)
    with gzip.open(path, "rt") as lines:
        return [json.loads(line) for line in lines]


if __name__ == "__main__":
    record()
