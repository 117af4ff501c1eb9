#!/usr/bin/python
"""Ansible module ``playdeck_dns_served``: wait until a DNS server serves a zone with the expected serial.

Options:
  server, port  where the server answers queries
  zone          the zone (with or without the final dot)
  serial        the SOA serial it must serve
  timeout       seconds to keep asking (rndc reload/addzone return before the zone is loaded)

Asks for the zone's SOA over UDP until an authoritative answer carries ``serial``; fails with what the
server last answered otherwise. Changes nothing. Returns ``served_serial`` and ``seconds`` waited.
"""

from __future__ import annotations

import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
from ansible.module_utils.basic import AnsibleModule

QUERY_TIMEOUT = 1.0
POLL_SECONDS = 0.2


def served_serial(zone: dns.name.Name, server: str, port: int) -> tuple[int | None, str]:
    """The serial the server answers for ``zone`` with authority, else None and what it said instead."""
    try:
        response = dns.query.udp(
            dns.message.make_query(zone, dns.rdatatype.SOA), server, port=port, timeout=QUERY_TIMEOUT
        )
    except (dns.exception.DNSException, OSError) as exc:
        return None, f"does not answer ({exc.__class__.__name__}: {exc})"
    if response.rcode() != dns.rcode.NOERROR:
        return None, f"answers {dns.rcode.to_text(response.rcode())} (the zone is not loaded)"
    if not response.flags & dns.flags.AA:
        return None, "answers without authority (the zone is not loaded)"
    try:
        rrset = response.find_rrset(response.answer, zone, dns.rdataclass.IN, dns.rdatatype.SOA)
    except KeyError:
        return None, "answers without an SOA record"
    return rrset[0].serial, f"serves serial {rrset[0].serial}"


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
    params = module.params
    zone = dns.name.from_text(params["zone"])
    started = time.monotonic()
    while True:
        serial, answer = served_serial(zone, params["server"], params["port"])
        waited = round(time.monotonic() - started, 3)
        if serial == params["serial"]:
            module.exit_json(changed=False, served_serial=serial, seconds=waited)
        if waited >= params["timeout"]:
            break
        time.sleep(POLL_SECONDS)
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
