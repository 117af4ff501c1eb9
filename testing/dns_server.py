"""A throwaway BIND ``named`` for DNS tests: loopback, high ports, an rndc key, zones added at run time."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import dns.zone

from testing.servers import ThrowawayServer

RNDC_KEY_NAME = "rndc-key"


def bind_program(name: str) -> str:
    """BIND's programs live in /usr/sbin, which a non-root PATH may lack."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(f"{name} not found: install bind9 and bind9utils (scripts/test does)")
    return found


class ThrowawayBind(ThrowawayServer):
    """``named -g`` on 127.0.0.1:``port`` with its control channel on ``control_port``.

    Authoritative only (recursion no), AXFR allowed from 127.0.0.1 so tests can compare whole zones,
    and ``allow-new-zones yes`` so the zone playbook can ``rndc addzone``. Everything it writes (pid,
    new-zone database, keys, log) stays in ``base``; ``zone_dir`` is where zone files go.
    """

    name = "named"

    def __init__(self, base: Path, port: int, control_port: int) -> None:
        self.base = base
        self.port = port
        self.control_port = control_port
        self.zone_dir = base / "zones"
        self.conf = base / "named.conf"
        self.rndc_key = base / "rndc.key"
        self.rndc_conf = base / "rndc.conf"
        self.log = base / "named.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> ThrowawayBind:
        self.zone_dir.mkdir(parents=True, exist_ok=True)
        if not self.rndc_key.exists():
            key = subprocess.run(
                [bind_program("tsig-keygen"), "-a", "hmac-sha256", RNDC_KEY_NAME],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            self.rndc_key.write_text(key)
        self.conf.write_text(self._named_conf())
        self.rndc_conf.write_text(
            f'include "{self.rndc_key}";\n'
            f'options {{ default-key "{RNDC_KEY_NAME}"; default-server 127.0.0.1; '
            f"default-port {self.control_port}; }};\n"
        )
        with open(self.log, "ab") as log:
            # -g: foreground, log to stderr; -n 1: one worker thread is plenty for tests.
            self.process = subprocess.Popen(
                [bind_program("named"), "-g", "-n", "1", "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_ready()
        return self

    def _named_conf(self) -> str:
        return f"""\
include "{self.rndc_key}";
options {{
    directory "{self.base}";
    pid-file "{self.base}/named.pid";
    managed-keys-directory "{self.base}";
    session-keyfile "{self.base}/session.key";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-new-zones yes;
    allow-transfer {{ 127.0.0.1; }};
}};
controls {{
    inet 127.0.0.1 port {self.control_port} allow {{ 127.0.0.1; }} keys {{ "{RNDC_KEY_NAME}"; }};
}};
"""

    def rndc(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [bind_program("rndc"), "-c", str(self.rndc_conf), *args], capture_output=True, text=True, timeout=30
        )

    def answers(self) -> bool:
        return self.rndc("status").returncode == 0

    # --- what it serves ---

    def soa_serial(self, zone: str) -> int | None:
        """The serial of an authoritative SOA answer for ``zone``, None if it does not serve the zone."""
        query = dns.message.make_query(zone, dns.rdatatype.SOA)
        response = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=2)
        answer = [rrset for rrset in response.answer if rrset.rdtype == dns.rdatatype.SOA]
        return answer[0][0].serial if answer else None

    def transfer(self, zone: str) -> dns.zone.Zone:
        """The whole zone as served, by AXFR, with absolute names."""
        messages = dns.query.xfr("127.0.0.1", zone, port=self.port, timeout=10, relativize=False)
        return dns.zone.from_xfr(messages, relativize=False)
