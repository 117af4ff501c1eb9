"""The part of a DNS regeneration run around the playbook: export before, record the outcome after.

Before: ``begin`` exports the zone (moving its serial on if it changed) in one short transaction and
writes the export where the playbook reads it; the run's extra vars say where BIND is. After: ``end``
records the serial BIND now serves, or the checker's message on the zone; the playbook itself renders,
validates, installs, reloads and verifies (playbooks/dns-zone.yml).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playdeck.db import session_scope
from playdeck.dns.regeneration import Regeneration, begin_regeneration, finish_regeneration
from playdeck.dns.scheduling import ZONE_VAR
from playdeck.settings import Settings
from playdeck.states import RunState

EXPORT_FILE = "zone-export.json"


@dataclass(frozen=True)
class ZoneRun:
    regeneration: Regeneration
    extravars: dict[str, Any]


def begin(run_id: int, extra_vars: dict[str, Any], data_dir: Path, settings: Settings) -> ZoneRun:
    with session_scope() as session:
        regeneration = begin_regeneration(session, extra_vars[ZONE_VAR], run_id=run_id)
    export_file = data_dir / EXPORT_FILE
    export_file.write_text(json.dumps(regeneration.export))
    settings.dns_zone_dir.mkdir(parents=True, exist_ok=True)
    return ZoneRun(
        regeneration,
        {
            "dns_export_file": str(export_file),
            "dns_zone_dir": str(settings.dns_zone_dir),
            "dns_server": settings.dns_server,
            "dns_port": settings.dns_port,
            "dns_rndc_conf": settings.dns_rndc_conf,
        },
    )


def end(zone_run: ZoneRun, run_id: int, state: RunState, failure: str) -> None:
    """Record the outcome on the zone; a failure keeps the zone dirty and shows ``failure`` on it."""
    regeneration = zone_run.regeneration
    with session_scope() as session:
        if state is RunState.SUCCESSFUL:
            finish_regeneration(
                session,
                regeneration.zone,
                change_seq=regeneration.change_seq,
                served_serial=regeneration.serial,
                run_id=run_id,
            )
        else:
            finish_regeneration(
                session,
                regeneration.zone,
                change_seq=regeneration.change_seq,
                run_id=run_id,
                error=failure or f"regeneration run {run_id} ended {state.value}",
            )
