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


def served(zone: dns.name.Name, server: str, port: int) -> tuple[bool | None, str]:
    """Whether the server answers for ``zone`` with authority (None: it does not answer), and what it said."""
    try:
        response = dns.query.udp(
            dns.message.make_query(zone, dns.rdatatype.SOA), server, port=port, timeout=QUERY_TIMEOUT
        )
    except (dns.exception.DNSException, OSError) as exc:
        return None, f"does not answer ({exc.__class__.__name__}: {exc})"
    if response.rcode() != dns.rcode.NOERROR:
        return False, f"answers {dns.rcode.to_text(response.rcode())}"
    if not response.flags & dns.flags.AA:
        return False, "answers without authority"
    try:
        rrset = response.find_rrset(response.answer, zone, dns.rdataclass.IN, dns.rdatatype.SOA)
    except KeyError:
        return False, "answers without an SOA record of the zone"
    return True, f"serves it (serial {rrset[0].serial})"


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
        serving, answer = served(zone, params["server"], params["port"])
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
