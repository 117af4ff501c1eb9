#!/usr/bin/python
"""Ansible module ``playdeck_dns_zone``: a Playdeck zone export becomes the zone BIND serves, validated first.

Options:
  export_file      the export JSON (``playdeck.dns.export``)
  zone_dir         the directory BIND reads zone files from; the file is ``<zone>.zone`` (no final dot)
  named_checkzone  the named-checkzone program (its strict flags are fixed in playdeck.dns.zonefile)
  rndc, rndc_conf, rndc_key, rndc_server, rndc_port
                   how to run rndc: ``rndc -c rndc_conf``, or else ``rndc -k rndc_key -s rndc_server -p
                   rndc_port``; with neither, rndc's defaults (/etc/bind/rndc.conf or rndc.key)
  server, port     where BIND answers queries: the new serial is verified there
  verify_seconds   how long BIND may take to serve the new serial

In one call (``playdeck.dns.bind.publish``): renders the export, validates it in a temporary file beside
the target with named-checkzone and dnspython, renames it over the target (the version replaced stays as
``<zone>.zone.prev``), asks BIND whether it has the zone and reads it from that file (``rndc
zonestatus``), loads it (``rndc addzone``, or ``rndc reload``) and waits until BIND serves the new
serial. An export identical to the installed file installs nothing, and BIND answers that it is
up-to-date: nothing changed. Check mode validates and asks BIND, and installs and loads nothing.

Returns ``zone`` (no final dot), ``path``, ``serial``, ``loaded`` (added, reloaded or up-to-date),
``served_serial``, ``rndc_addzone`` (the configuration ``rndc addzone`` is given) and ``seconds`` per
step. A refused export or a failed validation fails with the checker's message and leaves the installed
file as it was; a failure after that (rndc, the verification) fails with what rndc or BIND said.

Imports ``playdeck``: the interpreter must be Playdeck's (inventory: ansible_python_interpreter).
On a local connection without become, its action plugin (playbooks/action_plugins/playdeck_dns_zone.py)
does the same in Ansible's own process instead of starting this module.
"""

from __future__ import annotations

import json
import sys

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    try:
        from playdeck.dns import bind
    except ImportError as exc:
        # Without playdeck there is no argument spec to parse the arguments with: say what is wrong.
        message = f"{sys.executable} cannot import playdeck ({exc}): run this with Playdeck's Python"
        print(json.dumps({"failed": True, "msg": message}))
        sys.exit(1)
    module = AnsibleModule(argument_spec=bind.TASK_ARGUMENTS, supports_check_mode=True)
    result = bind.task_result(module.params, check_mode=module.check_mode)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
