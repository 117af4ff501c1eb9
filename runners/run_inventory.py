"""The inventory sources of a run: the environment's inventory file (in the run's checkout for a git project, so
the inventory and its group_vars are those of the run's commit, not of the branch tip), or its inline inventory
written into the run's private dir; then the environment's variables, as one more source.

Why the variables are an inventory source (``all: vars:``) and not extra vars: they are the environment's
settings, kept by the project's editors, the same kind of data as an inventory's ``[all:vars]``. As an inventory
source they get inventory precedence, so the repository's group_vars, host_vars and the playbook's own vars can
refine them; as extra vars they would override everything, the playbook's logic included, and a launch could no
longer be checked against them. Editors' values, like the repository's own files, may use Jinja.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from playdeck.errors import ValidationError
from playdeck.inputs import load_yaml
from playdeck.projects import inline_inventory
from runners.source_errors import SourceUnavailable, existing_path
from runners.spec import RunSpec

# In the run's private dir, beside env/ and artifacts/ (not "inventory": ansible-runner's default source).
ENVIRONMENT_DIR = "environment"
VARIABLES_FILE = "variables.yml"
MAX_VARIABLES_BYTES = 256 * 1024


@dataclass(frozen=True)
class Inventories:
    sources: list[Path]
    # For ansible: an inline inventory is read with its own plugin only (playdeck.projects.inline_inventory).
    envvars: dict[str, str] = field(default_factory=dict)


def prepare(spec: RunSpec, base: Path, data_dir: Path, where: str) -> Inventories:
    """``base``: where the environment's inventory path is (the checkout, or the settings' inventory dir);
    ``where`` names it in a reason ("the checkout of commit 3f2a9c1d0e4b (main)", "the inventory dir")."""
    directory = data_dir / ENVIRONMENT_DIR
    envvars: dict[str, str] = {}
    if spec.inline_inventory is not None:
        directory.mkdir(mode=0o700, exist_ok=True)
        source = directory / inline_inventory.filename(spec.inline_inventory)
        source.write_text(spec.inline_inventory)
        envvars = inline_inventory.ansible_environment(spec.inline_inventory)
    else:
        source = existing_path(base, spec.inventory, "inventory", where)
    sources = [source]
    variables = _variables(spec.variables_yaml)
    if variables:
        directory.mkdir(mode=0o700, exist_ok=True)
        path = directory / VARIABLES_FILE
        path.write_text(yaml.safe_dump({"all": {"vars": variables}}, sort_keys=False))
        sources.append(path)
        if envvars:
            # The YAML plugin first: it takes .yml files only, so the INI one still reads inventory.ini.
            enabled = dict.fromkeys(["yaml", *envvars["ANSIBLE_INVENTORY_ENABLED"].split(",")])
            envvars = {**envvars, "ANSIBLE_INVENTORY_ENABLED": ",".join(enabled)}
    return Inventories(sources, envvars)


def _variables(text: str) -> dict:
    if not text or not text.strip():
        return {}
    try:
        parsed = load_yaml(text, "variables", MAX_VARIABLES_BYTES)
    except ValidationError as exc:
        raise SourceUnavailable(f"the environment's variables cannot be read: {exc.message}") from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise SourceUnavailable("the environment's variables are not a YAML mapping of names to values")
    return parsed
