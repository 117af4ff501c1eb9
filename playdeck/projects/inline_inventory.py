"""An environment's inline inventory (INI or YAML typed in the admin page or sent to the API), checked with
``ansible-inventory --list`` before it is saved, so a broken one is refused with ansible's own message
instead of failing the next deploy.

The check runs ansible-inventory in a subprocess, with a timeout, on a private copy of the text in a fresh
0700 directory, and with only the INI or the YAML inventory plugin enabled: the script and plugin
inventories (which run code) are never tried, and no ansible.cfg, group_vars or inventory plugin of the
server's working directory is read. ``--list`` does not template values, so a ``{{ lookup('pipe', …) }}``
in a host variable is text here. The run that later uses the inventory writes it under ``filename`` and
enables the same plugin (``ansible_environment``).

A subprocess, not a library call: it takes about a second; callers run it before they open a database
session (``playdeck.projects.registry.parse_changes``).
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

from playdeck.errors import PlaydeckError, ValidationError
from playdeck.inputs import load_yaml
from playdeck.projects import ansible_cli

MAX_INVENTORY_BYTES = 256 * 1024
CHECK_TIMEOUT_SECONDS = ansible_cli.TIMEOUT_SECONDS
YAML, INI = "yaml", "ini"
FAILED_RE = re.compile(r"Failed to parse inventory with '\w+' plugin: (?P<reason>.+)")
# Ansible's ERROR and WARNING prefixes, and the deprecation noise of its imports.
NOISE = ("[WARNING]", "[DEPRECATION", "from cryptography", "CryptographyDeprecationWarning")


class InventoryCheckUnavailable(PlaydeckError):
    """ansible-inventory could not be run on this server: its installation, not the request, is at fault."""

    status_code = 503


def inventory_format(text: str) -> str:
    """YAML when the text is a YAML mapping (``all: {hosts: …}``), else INI (``[web]``, a list of hosts). Broken
    YAML that starts like a mapping (``all:``) is YAML, so the error is the YAML plugin's."""
    try:
        parsed = load_yaml(text, "inline_inventory", MAX_INVENTORY_BYTES)
    except ValidationError:
        significant = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", ";"))]
        return YAML if significant and significant[0].rstrip().endswith(":") else INI
    return YAML if isinstance(parsed, dict) else INI


def filename(text: str) -> str:
    """The name a run writes the inventory under: ansible picks the plugin by its extension too."""
    return "inventory.yml" if inventory_format(text) == YAML else "inventory.ini"


def ansible_environment(text: str) -> dict[str, str]:
    """What ansible gets in its environment to read this inventory with its own plugin and nothing else."""
    return {"ANSIBLE_INVENTORY_ENABLED": inventory_format(text), "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
            "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True"}  # fmt: skip


def normalise(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip("\n") + "\n"


def check(text: object, field: str) -> str:
    """``text`` normalised (LF line ends, one final newline) if ansible-inventory reads at least one host
    from it; else ValidationError on ``field`` with ansible's reason."""
    if not isinstance(text, str):
        raise ValidationError(field, "must be text (an INI or YAML inventory)")
    if not text.strip():
        raise ValidationError(field, "is empty: give an inventory, or an inventory path instead")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_INVENTORY_BYTES:
        raise ValidationError(field, f"is larger than {MAX_INVENTORY_BYTES // 1024} KiB")
    if "\x00" in text:
        raise ValidationError(field, "must not contain NUL characters")
    text = normalise(text)
    with tempfile.TemporaryDirectory(prefix="playdeck-inventory-") as private:
        listed = _list(Path(private), text, field)
    if not hosts_of(listed):
        raise ValidationError(field, "lists no host")
    return text


def _list(private: Path, text: str, field: str) -> dict:
    source = private / filename(text)
    source.write_text(text)
    try:
        done = ansible_cli.run(private, ["ansible-inventory", "--list", "-i", str(source)], ansible_environment(text))
    except subprocess.TimeoutExpired:
        raise ValidationError(field, f"ansible-inventory took over {CHECK_TIMEOUT_SECONDS} s to read it") from None
    except OSError as exc:
        raise InventoryCheckUnavailable(f"cannot run ansible-inventory to check {field}: {exc.strerror}") from None
    if done.returncode != 0:
        raise ValidationError(field, _reason(done.stderr, str(source)))
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise ValidationError(field, "ansible-inventory gave no inventory for it") from None


def _reason(stderr: str, source: str) -> str:
    """Ansible's explanation, without the temporary file's name (which means nothing to the user)."""
    stderr = stderr.replace(source, "the inventory")
    found = FAILED_RE.search(stderr)
    if found:
        return f"ansible-inventory: {found['reason'].strip()}"
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.lstrip().startswith(NOISE)]
    return f"ansible-inventory: {lines[-1] if lines else 'it could not be parsed'}"[:1000]


def hosts_of(listed: dict) -> set[str]:
    """Every host name of ``ansible-inventory --list`` output."""
    hosts = set(listed.get("_meta", {}).get("hostvars", {}))
    for group in listed.values():
        if isinstance(group, dict):
            hosts.update(group.get("hosts", []))
    return hosts
