#!/usr/bin/python
"""Ansible module ``playdeck_dns_absent``: wait until a DNS server no longer serves a zone.

Options:
  server, port  where the server answers queries
  zone          the zone (with or without the final dot)
  timeout       seconds to keep asking (``rndc delzone`` returns before the zone is gone)

Asks for the zone's SOA over UDP until the server answers without it: an error code (REFUSED, NOTAUTH,
NXDOMAIN from a parent zone it serves...), no authority, or no SOA record of the zone in the answer (a
parent zone's NODATA, a referral). No answer at all proves nothing and is asked again. Fails with what
the server last answered otherwise. Changes nothing. Returns ``answer`` and ``seconds`` waited.
"""

from __future__ import annotations

import time

import dns.name
from ansible.module_utils.basic import AnsibleModule

# Runs with the playbook's Python, Playdeck's venv (inventory/dns/local.ini): the same SOA question as the
# regeneration's check that a zone is served.
from playdeck.dns.bind import soa_answer

POLL_SECONDS = 0.2


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "server": {"type": "str", "required": True},
            "port": {"type": "int", "default": 53},
            "zone": {"type": "str", "required": True},
            "timeout": {"type": "float", "default": 10.0},
        },
        supports_check_mode=True,
    )
    params = module.params
    zone = dns.name.from_text(params["zone"])
    started = time.monotonic()
    while True:
        serving, _, answer = soa_answer(zone, params["server"], params["port"])
        waited = round(time.monotonic() - started, 3)
        if serving is False:
            module.exit_json(changed=False, answer=answer, seconds=waited)
        if waited >= params["timeout"]:
            break
        time.sleep(POLL_SECONDS)
    where = f"the DNS server at {params['server']}:{params['port']}"
    module.fail_json(
        msg=(
            f"{where} still serves {zone} after {waited} s: {answer}"
            if serving
            else f"cannot tell whether {where} still serves {zone}: it {answer}"
        ),
        answer=answer,
        seconds=waited,
    )


if __name__ == "__main__":
    main()
