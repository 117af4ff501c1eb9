"""The project's source for one run: the playbook and the inventory the run uses.

Today both are files on the worker host, under the playbook and inventory dirs of the settings. This is the
one step that projects from git replace (a checkout of the run's revision per run).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playdeck.projects import resolve_inside
from playdeck.settings import Settings
from runners.spec import RunSpec


@dataclass(frozen=True)
class ProjectSource:
    playbook: Path
    inventory: Path


def prepare(spec: RunSpec, settings: Settings) -> ProjectSource:
    playbook = resolve_inside(settings.playbook_dir, spec.playbook, "playbook")
    inventory = resolve_inside(settings.inventory_dir, spec.inventory, "inventory")
    for path, what, name in ((playbook, "playbook", spec.playbook), (inventory, "inventory", spec.inventory)):
        if not path.exists():
            raise FileNotFoundError(f"{what} '{name}' not found in {path.parent}")
    return ProjectSource(playbook, inventory)
