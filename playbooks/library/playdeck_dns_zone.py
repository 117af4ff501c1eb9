#!/usr/bin/python
"""Ansible module ``playdeck_dns_zone``: a Playdeck zone export becomes BIND's zone file, validated first.

Options:
  export_file      the export JSON (``playdeck.dns.export``)
  zone_dir         the directory BIND reads zone files from; the file is ``<zone>.zone`` (no final dot)
  named_checkzone  the named-checkzone program (its strict flags are fixed in playdeck.dns.zonefile)

Renders the export, validates it in a temporary file beside the target with named-checkzone and
dnspython, and renames it over the target (the version replaced stays as ``<zone>.zone.prev``). An
export identical to the installed file changes nothing. Check mode validates and installs nothing.

Returns ``zone`` (no final dot), ``path``, ``serial``, ``rndc_addzone`` (the configuration ``rndc addzone``
needs to load this file) and ``seconds`` (render, install). A refused export or a failed validation
fails with the checker's message and leaves the installed file as it was.

Imports ``playdeck``: the interpreter must be Playdeck's (inventory: ansible_python_interpreter).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

# Characters that would end or escape the quoted file name in the `rndc addzone` configuration.
UNQUOTABLE = frozenset('"\\;{}') | frozenset(map(chr, range(32)))


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "export_file": {"type": "path", "required": True},
            "zone_dir": {"type": "path", "required": True},
            "named_checkzone": {"type": "str", "default": "named-checkzone"},
        },
        supports_check_mode=True,
    )
    try:
        from playdeck.dns import zonefile
    except ImportError as exc:
        module.fail_json(msg=f"{sys.executable} cannot import playdeck ({exc}): run this with Playdeck's Python")

    zone_dir = Path(module.params["zone_dir"])
    if not zone_dir.is_dir():
        module.fail_json(msg=f"the zone directory {zone_dir} does not exist")
    export_file = module.params["export_file"]
    try:
        export = json.loads(Path(export_file).read_text())
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"cannot read the zone export {export_file}: {exc}")

    started = time.monotonic()
    try:
        text = zonefile.render(export)
    except zonefile.ZoneFileError as exc:
        module.fail_json(msg=f"the zone export was refused: {exc}")
    rendered = time.monotonic()
    zone = export["zone"].rstrip(".").lower()  # render accepted it: a plain absolute name
    target = zone_dir / f"{zone}.zone"
    if UNQUOTABLE & set(str(target)):
        module.fail_json(msg=f"the zone file path {target!r} cannot be quoted for rndc addzone")
    try:
        changed = zonefile.install(
            target, text, export["zone"], module.params["named_checkzone"], dry_run=module.check_mode
        )
    except zonefile.ZoneFileError as exc:
        module.fail_json(msg=str(exc), zone=zone, path=str(target))
    module.exit_json(
        changed=changed,
        zone=zone,
        path=str(target),
        serial=export["serial"],
        rndc_addzone=f'{{ type primary; file "{target}"; }};',
        seconds={"render": round(rendered - started, 3), "install": round(time.monotonic() - rendered, 3)},
    )


if __name__ == "__main__":
    main()
