"""The part of a DNS run around the playbook: decide and prepare before, record the outcome after.

Before: ``begin`` decides, in one short transaction, what the run does (``regeneration.begin_run``):
for a live zone it exports the zone (moving its serial on if it changed) and writes the export where the
playbook reads it; for a deleted zone it picks the removal playbook instead. Either playbook gets
BIND's whereabouts from the settings. After: ``end`` records the serial BIND now serves, or purges the
removed zone, or puts the failure on the zone; the playbooks themselves render, validate, install,
reload and verify (playbooks/dns-zone.yml), or delete the zone from BIND, set its file aside and verify
it is no longer served (playbooks/dns-zone-delete.yml).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playdeck.db import session_scope
from playdeck.dns.regeneration import Regeneration, Removal, begin_run, finish_regeneration, finish_removal
from playdeck.dns.scheduling import ZONE_VAR
from playdeck.runs.states import RunState
from playdeck.settings import Settings

EXPORT_FILE = "zone-export.json"
# Beside the project's playbook (dns-zone.yml), so it finds the same library/ of modules.
REMOVAL_PLAYBOOK = "dns-zone-delete.yml"


@dataclass(frozen=True)
class ZoneRun:
    regeneration: Regeneration | Removal
    extravars: dict[str, Any]
    # The playbook to run instead of the project's (dns-zone.yml), or None.
    playbook: Path | None = None


def begin(run_id: int, extra_vars: dict[str, Any], data_dir: Path, settings: Settings) -> ZoneRun:
    with session_scope() as session:
        regeneration = begin_run(session, extra_vars[ZONE_VAR], run_id=run_id)
    server = {
        "dns_zone_dir": str(settings.dns_zone_dir),
        "dns_server": settings.dns_server,
        "dns_port": settings.dns_port,
        "dns_rndc_conf": settings.dns_rndc_conf,
    }
    if isinstance(regeneration, Removal):
        playbook = settings.playbook_dir / REMOVAL_PLAYBOOK
        if not playbook.exists():
            raise FileNotFoundError(f"playbook '{REMOVAL_PLAYBOOK}' not found in {settings.playbook_dir}")
        return ZoneRun(regeneration, {**server, ZONE_VAR: regeneration.zone}, playbook)
    export_file = data_dir / EXPORT_FILE
    export_file.write_text(json.dumps(regeneration.export))
    settings.dns_zone_dir.mkdir(parents=True, exist_ok=True)
    return ZoneRun(regeneration, {**server, "dns_export_file": str(export_file)})


def end(zone_run: ZoneRun, run_id: int, state: RunState, failure: str) -> None:
    """Record the outcome on the zone; a failure keeps the zone dirty (or deleted, not purged) and shows
    ``failure`` on it."""
    regeneration = zone_run.regeneration
    what = "removal" if isinstance(regeneration, Removal) else "regeneration"
    error = None if state is RunState.SUCCESSFUL else failure or f"{what} run {run_id} ended {state.value}"
    with session_scope() as session:
        if isinstance(regeneration, Removal):
            finish_removal(session, regeneration.zone, run_id=run_id, error=error)
        else:
            finish_regeneration(
                session,
                regeneration.zone,
                change_seq=regeneration.change_seq,
                served_serial=None if error else regeneration.serial,
                run_id=run_id,
                error=error,
            )
