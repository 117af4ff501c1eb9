"""What each kind of run adds around the playbook: its own step in preparing the run and in concluding it.

The executor (runners.execution) prepares, runs and concludes every run the same way; a kind plugs in
``prepare`` (after the run's private dir exists, before its extra vars are written) and ``conclude``
(after the run's outcome is known, before its terminal state is recorded). One instance serves one run,
so what ``prepare`` decided is there for ``conclude``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from playdeck.db import retry_while_unavailable
from playdeck.runs.states import RunKind, RunState
from playdeck.settings import Settings
from runners import zone_regeneration
from runners.spec import RunSpec


@dataclass(frozen=True)
class KindInputs:
    """What a kind gives the playbook: more extra vars, and a playbook to run instead of the project's."""

    extravars: dict[str, Any] = field(default_factory=dict)
    playbook: Path | None = None


class KindSteps(Protocol):
    def prepare(self, spec: RunSpec, data_dir: Path) -> KindInputs: ...

    def conclude(self, spec: RunSpec, state: RunState, failure: str) -> None:
        """``failure``: the playbook's first failure, else the run's reason."""


class DeploySteps:
    """A deploy runs the project's playbook as it is: nothing to add."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def prepare(self, spec: RunSpec, data_dir: Path) -> KindInputs:
        return KindInputs()

    def conclude(self, spec: RunSpec, state: RunState, failure: str) -> None:
        return None


class DnsSteps:
    """A DNS regeneration exports its zone first; the playbook gets the export and BIND's whereabouts.
    Its outcome is recorded on the zone (runners.zone_regeneration)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.zone_run: zone_regeneration.ZoneRun | None = None

    def prepare(self, spec: RunSpec, data_dir: Path) -> KindInputs:
        self.zone_run = zone_regeneration.begin(spec.run_id, spec.extra_vars, data_dir, self.settings)
        # A deleted zone's run removes it from BIND with its own playbook (else None: the project's).
        return KindInputs(self.zone_run.extravars, self.zone_run.playbook)

    def conclude(self, spec: RunSpec, state: RunState, failure: str) -> None:
        zone_run = self.zone_run
        if zone_run is None:
            return
        # Before the run's own end, so a run seen successful always has its zone marked served.
        retry_while_unavailable(
            lambda: zone_regeneration.end(zone_run, spec.run_id, state, failure),
            self.settings.db_outage_patience_seconds,
            f"run {spec.run_id} zone",
        )


STEPS: dict[RunKind, Callable[[Settings], KindSteps]] = {RunKind.DEPLOY: DeploySteps, RunKind.DNS: DnsSteps}


def steps_for(kind: RunKind, settings: Settings) -> KindSteps:
    """A fresh instance for one run of ``kind``."""
    return STEPS[kind](settings)
