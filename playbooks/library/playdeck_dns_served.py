#!/usr/bin/python
"""Ansible module ``playdeck_dns_served``: wait until a DNS server serves a zone with the expected serial.

Options:
  server, port  where the server answers queries
  zone          the zone (with or without the final dot)
  serial        the SOA serial it must serve
  timeout       seconds to keep asking (rndc reload/addzone return before the zone is loaded)

Asks for the zone's SOA over UDP until an authoritative answer carries ``serial``; fails with what the
server last answered otherwise. Changes nothing. Returns ``served_serial`` and ``seconds`` waited.

playbooks/dns-zone.yml verifies within its zone module (``playdeck.dns.bind.publish``); this one is for
a playbook that only waits for a serial. Imports ``playdeck``: the interpreter must be Playdeck's.
"""

from __future__ import annotations

import sys
import time

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "server": {"type": "str", "required": True},
            "port": {"type": "int", "default": 53},
            "zone": {"type": "str", "required": True},
            "serial": {"type": "int", "required": True},
            "timeout": {"type": "float", "default": 10.0},
        },
        supports_check_mode=True,
    )
    try:
        import dns.name

        from playdeck.dns import bind
    except ImportError as exc:
        module.fail_json(msg=f"{sys.executable} cannot import playdeck ({exc}): run this with Playdeck's Python")
    params = module.params
    zone = dns.name.from_text(params["zone"])
    started = time.monotonic()
    serial, answer = bind.wait_served(zone, params["serial"], params["server"], params["port"], params["timeout"])
    waited = round(time.monotonic() - started, 3)
    if serial == params["serial"]:
        module.exit_json(changed=False, served_serial=serial, seconds=waited)
    module.fail_json(
        msg=(
            f"the DNS server at {params['server']}:{params['port']} does not serve {zone} with serial "
            f"{params['serial']} after {waited} s: it {answer}. named's log says why (for example, named "
            "cannot read the zone file, or loads this zone from another file)"
        ),
        served_serial=serial,
        seconds=waited,
    )


if __name__ == "__main__":
    main()
