"""The project's source for one run: where its playbook runs, the playbook, the inventory sources, and what the
run reads besides (Galaxy requirements).

A directory project's playbook and inventory are files on the worker host, under the playbook and inventory
dirs of the settings. A git project's run gets its own checkout of its commit in its private dir
(runners.git_checkout): the playbook, the inventory with its group_vars, ansible.cfg and the Galaxy
requirements all come from that commit, and paths leaving the checkout (``..``, absolute, a symlink pointing
out) are refused. Either way, an environment's inline inventory and its variables are written into the private
dir (runners.run_inventory). Whatever is wrong ends the run in error with a reason saying what
(SourceUnavailable), before the playbook starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playdeck.git import GitCredential
from playdeck.settings import Settings
from runners import galaxy, git_checkout, run_inventory
from runners.source_errors import existing_path
from runners.spec import RunSpec


@dataclass(frozen=True)
class ProjectSource:
    # Where ansible-playbook runs (a git project's checkout root: its ansible.cfg applies).
    project_dir: Path
    playbook: Path
    inventories: list[Path]
    # Variables for ansible (inventory plugins, roles and collections paths).
    envvars: dict[str, str] = field(default_factory=dict)
    # Dirs outside the private dir the run reads (the sandbox shows them read-only).
    readable: list[Path] = field(default_factory=list)
    # The run's checkout (None for a directory project): the sandbox shows it read-only, like a playbook dir.
    checkout: Path | None = None


def prepare(spec: RunSpec, settings: Settings, data_dir: Path, credential: GitCredential | None) -> ProjectSource:
    """``data_dir``: the run's fresh private dir; ``credential``: a git project's (read with the run's secrets)."""
    if spec.git is None:
        return _from_directories(spec, settings, data_dir)
    checkout = git_checkout.checkout(spec.project_id, spec.git, credential, data_dir).resolve()
    where = f"the checkout of commit {spec.git.commit[:12]} ({spec.git.ref})"
    playbook = existing_path(checkout, spec.playbook, "playbook", where)
    inventories = run_inventory.prepare(spec, checkout, data_dir, where)
    installed = galaxy.install(checkout, settings)
    return ProjectSource(
        project_dir=checkout,
        playbook=playbook,
        inventories=inventories.sources,
        envvars={**inventories.envvars, **installed.envvars},
        readable=installed.dirs,
        checkout=checkout,
    )


def _from_directories(spec: RunSpec, settings: Settings, data_dir: Path) -> ProjectSource:
    playbook = existing_path(settings.playbook_dir, spec.playbook, "playbook", "the playbook dir")
    inventories = run_inventory.prepare(spec, settings.inventory_dir, data_dir, "the inventory dir")
    return ProjectSource(playbook.parent, playbook, inventories.sources, inventories.envvars)
