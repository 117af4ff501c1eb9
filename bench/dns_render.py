"""``python -m bench.dns_render``: render and validate a 100,000-record zone (target: ≤ 5 s).

The zone playbook's work without a server: render (``playdeck.dns.zonefile.render``), the dnspython
check, named-checkzone with the strict flags, and both validations as the playbook runs them (in
parallel). Twice: cold (a new zone, every record judged) and warm (the zone regenerated after
``--changes`` edits: only data not in the installed version is judged again). Needs named-checkzone
(bind9utils). Wall times are the median of ``--repeat`` runs; CPU times beside them, this process's and
named-checkzone's, show how much of the wall time was work (the rest: waiting for a busy machine).
The same steps inside a real regeneration run, with BIND: ``python -m bench.dns``.
"""

from __future__ import annotations

import argparse
import ipaddress
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import Row, print_table
from playdeck.dns import zonefile, zones

ZONE = "bench.test."
TARGET_SECONDS = 5.0


def soa_for(zone: str) -> dict[str, Any]:
    """The export's SOA for ``zone``: ns1 and hostmaster in it, a new zone's default timers."""
    timers = {key: zones.DEFAULT_SETTINGS[key] for key in ("refresh", "retry", "expire", "minimum")}
    return {"mname": f"ns1.{zone}", "rname": f"hostmaster.{zone}", **timers}


SOA = soa_for(ZONE)


def build_export(records: int = 100_000, serial: int = 2026112701) -> dict[str, Any]:
    """An export of ``records`` records, a mix of A, AAAA, CNAME, TXT and MX, nearly all values distinct."""
    rows = [("@", "NS", 3600, f"ns1.{ZONE}"), ("ns1", "A", 3600, "192.0.2.1")]
    kinds = (_a, _aaaa, _cname, _txt, _mx)
    for index in range(records - len(rows)):
        rows.append(kinds[index % len(kinds)](index))
    rows.sort(key=lambda row: (row[0], row[1], row[3]))
    return {
        "zone": ZONE,
        "serial": serial,
        "default_ttl": 3600,
        "soa": SOA,
        "records": [{"name": name, "type": rtype, "ttl": ttl, "value": value} for name, rtype, ttl, value in rows],
    }


def _a(index: int) -> tuple[str, str, int, str]:
    return f"host{index}", "A", 300, str(ipaddress.IPv4Address(0x0A000000 + index))


def _aaaa(index: int) -> tuple[str, str, int, str]:
    return f"host{index}", "AAAA", 300, str(ipaddress.IPv6Address((0x20010DB8 << 96) + index))


def _cname(index: int) -> tuple[str, str, int, str]:
    return f"alias{index}", "CNAME", 300, f"host{index - index % 5}.{ZONE}"  # an A record's name


def _txt(index: int) -> tuple[str, str, int, str]:
    return f"host{index}", "TXT", 300, f'"v=spf1 ip4:{ipaddress.IPv4Address(0x0A000000 + index)} -all" "id {index}"'


def _mx(index: int) -> tuple[str, str, int, str]:
    return f"mail{index}", "MX", 300, f"{index % 50} host{index - index % 5}.{ZONE}"


def changed_export(export: dict[str, Any], changes: int) -> dict[str, Any]:
    """``export`` after ``changes`` edits spread over the zone (new A addresses), with the next serial."""
    records = [dict(record) for record in export["records"]]
    a_records = [record for record in records if record["type"] == "A"]
    step = max(1, len(a_records) // changes)
    for number, record in enumerate(a_records[::step][:changes]):
        record["value"] = str(ipaddress.IPv4Address(0xAC100000 + number))  # 172.16/12: none used before
    records.sort(key=lambda record: (record["name"], record["type"], record["value"]))
    return export | {"serial": export["serial"] + 1, "records": records}


def timed(step: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    """Median wall, CPU and child-process CPU (named-checkzone) seconds of ``repeat`` runs of ``step``.

    CPU seconds do not grow with the machine's load as wall seconds do: on an idle machine with two
    cores, the wall time is about the larger of this process's CPU and render + named-checkzone's.
    """
    walls, cpus, children = [], [], []
    for _ in range(repeat):
        wall, cpu, child = time.perf_counter(), time.process_time(), _children_cpu()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        children.append(_children_cpu() - child)
    return statistics.median(walls), statistics.median(cpus), statistics.median(children)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def regeneration(export: dict[str, Any], path: Path, previous: str | None) -> None:
    """What the playbook's zone module does before installing: render, write, both validations."""
    text = zonefile.render(export)
    path.write_text(text)
    zonefile.validate_file(path, text, ZONE, previous)


def run(records: int, changes: int, repeat: int) -> list[Row]:
    export = build_export(records)
    text = zonefile.render(export)
    edited = changed_export(export, changes)
    edited_text = zonefile.render(edited)
    rows = []
    with tempfile.TemporaryDirectory(prefix="playdeck-bench-dns-") as tmp:
        path = Path(tmp) / f"{ZONE.rstrip('.')}.zone"
        path.write_text(text)
        steps = [
            ("render", lambda: zonefile.render(export)),
            ("dnspython check, cold", lambda: zonefile.check(text, ZONE)),
            (f"dnspython check, warm ({changes:,} changed)", lambda: zonefile.check(edited_text, ZONE, text)),
            ("named-checkzone", lambda: zonefile.checkzone_problem(zonefile.named_checkzone(ZONE, path))),
        ]
        for name, step in steps:
            wall, cpu, child = timed(step, repeat)
            note = f"cpu {cpu:.2f} s" + (f", named-checkzone {child:.2f} s" if child else "")
            rows.append(Row(f"{name}, {records:,} records", wall, "s", TARGET_SECONDS, note=note))
        regenerations = [
            ("render + both validations, cold", lambda: regeneration(export, path, None)),
            (f"render + both validations, warm ({changes:,} changed)", lambda: regeneration(edited, path, text)),
        ]
        for name, step in regenerations:
            wall, cpu, child = timed(step, repeat)
            note = f"cpu {cpu:.2f} s, named-checkzone {child:.2f} s in parallel"
            rows.append(Row(f"{name}, {records:,} records", wall, "s", TARGET_SECONDS, note=note))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dns_render")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=1_000, help="edits before the warm regeneration")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the median is shown)")
    args = parser.parse_args()
    rows = run(args.records, args.changes, args.repeat)
    print_table(rows)
    return 0 if all(row.passed for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
