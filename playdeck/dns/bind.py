"""The zone playbook's work against BIND, in one call: install the zone file, load it, verify it is served.

``publish`` renders an export (``playdeck.dns.export``), validates and installs it (``zonefile``), asks
BIND with ``rndc zonestatus`` whether it has the zone and reads it from that file, loads it (``rndc
addzone`` for a new zone, ``rndc reload`` otherwise) and waits until BIND answers the new serial with
authority. The one task of playbooks/dns-zone.yml calls it (through ``task_result``, from the
playdeck_dns_zone action plugin or module): each Ansible task that starts a module costs 0.5-1.5 s on a
small machine (Ansible packs the module, a new Python starts and imports it), which dominated the time
from a change to BIND serving it when these steps were six tasks.

rndc and the serial queries are run as argument lists, never shell lines. A refused export or a failed
validation installs nothing; a later failure (rndc, verification) leaves the new file installed, and
the next run with the same export changes nothing but asks BIND to load it and verifies again.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from playdeck.dns import zonefile

RNDC_TIMEOUT = 60
QUERY_TIMEOUT = 1.0
# Between SOA queries: BIND loads a small zone within milliseconds of `rndc reload`, a large one takes
# longer; ask often at first, then every POLL_MAX seconds.
POLL_FIRST = 0.005
POLL_MAX = 0.2
# Characters that would end or escape the quoted file name in the `rndc addzone` configuration.
UNQUOTABLE = frozenset('"\\;{}') | frozenset(map(chr, range(32)))
ZONESTATUS_FILE_RE = re.compile(r"^files: (\S+)", re.MULTILINE)


class PublishError(Exception):
    """A step failed; ``str()`` is the message for the run, ``facts`` what is known so far."""

    def __init__(self, message: str, **facts: Any) -> None:
        super().__init__(message)
        self.facts = facts


@dataclass(frozen=True)
class Rndc:
    """How to run rndc: ``conf`` (rndc -c), or else ``key`` (rndc -k) with ``server`` and ``port``;
    with neither, rndc's own defaults (/etc/bind/rndc.conf or rndc.key)."""

    program: str = "rndc"
    conf: str = ""
    key: str = ""
    server: str = "127.0.0.1"
    port: int = 953

    def argv(self, *args: str) -> list[str]:
        argv = [self.program]
        if self.conf:
            argv += ["-c", self.conf]
        elif self.key:
            argv += ["-k", self.key, "-s", self.server, "-p", str(self.port)]
        return [*argv, *args]

    def start(self, *args: str) -> subprocess.Popen:
        try:
            return subprocess.Popen(
                self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
            )
        except OSError as exc:
            raise PublishError(f"cannot run {self.program} ({exc}): install bind9utils or set its path") from None

    def run(self, *args: str) -> tuple[int, str, str]:
        return finish(self.start(*args), args)


def finish(process: subprocess.Popen, args: tuple[str, ...]) -> tuple[int, str, str]:
    """rndc's exit status, stdout and stderr."""
    try:
        stdout, stderr = process.communicate(timeout=RNDC_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise PublishError(f"rndc {' '.join(args)} did not answer within {RNDC_TIMEOUT} s") from None
    return process.returncode, stdout.strip(), stderr.strip()


def rndc_failure(args: tuple[str, ...], status: int, stdout: str, stderr: str) -> str:
    said = "; ".join(part for part in (stderr, stdout) if part) or "nothing"
    return f"rndc {' '.join(args)} failed (exit {status}): {said}"


@dataclass
class Published:
    zone: str
    path: str
    serial: int
    changed: bool = False
    # "added" (rndc addzone), "reloaded", "up-to-date" (BIND had this file loaded), "" (check mode)
    loaded: str = ""
    served_serial: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "path": self.path,
            "serial": self.serial,
            "loaded": self.loaded,
            "served_serial": self.served_serial,
            "rndc_addzone": addzone_config(Path(self.path)),
            "seconds": self.seconds,
        }


def addzone_config(path: Path) -> str:
    return f'{{ type primary; file "{path}"; }};'


def read_export(export_file: str) -> dict[str, Any]:
    try:
        return json.loads(Path(export_file).read_text())
    except (OSError, ValueError) as exc:
        raise PublishError(f"cannot read the zone export {export_file}: {exc}") from None


def publish(
    export: dict[str, Any],
    zone_dir: Path,
    *,
    rndc: Rndc,
    server: str,
    port: int,
    named_checkzone: str = "named-checkzone",
    verify_seconds: float = 10.0,
    check_mode: bool = False,
) -> Published:
    """Render, validate, install, load and verify ``export``; PublishError with the message otherwise.

    ``check_mode`` validates and asks BIND about the zone (read-only) but installs and loads nothing.
    """
    clock = time.monotonic()
    seconds: dict[str, float] = {}

    def lap(step: str) -> None:
        nonlocal clock
        now = time.monotonic()
        seconds[step] = round(now - clock, 3)
        clock = now

    text, target, result = _render(export, zone_dir, seconds)
    lap("render")
    # BIND is asked while the zone file is validated: the answer costs no time on the way.
    status_args = ("zonestatus", result.zone)
    status = rndc.start(*status_args)
    try:
        result.changed = zonefile.install(target, text, export["zone"], named_checkzone, dry_run=check_mode)
    except zonefile.ZoneFileError as exc:
        raise PublishError(str(exc), **result.facts()) from None
    finally:
        status_answer = finish(status, status_args)
    lap("install")
    known = _known_zone(status_args, status_answer, target, result)
    if check_mode:
        return result
    _load(rndc, known, target, result)
    lap("load")
    origin = dns.name.from_text(export["zone"])
    result.served_serial, answer = wait_served(origin, result.serial, server, port, verify_seconds)
    lap("verify")
    if result.served_serial != result.serial:
        raise PublishError(
            f"the DNS server at {server}:{port} does not serve {origin} with serial {result.serial} after "
            f"{seconds['verify']} s: it {answer}. named's log says why (for example, named cannot read the "
            "zone file, or loads this zone from another file)",
            **result.facts(),
        )
    return result


def _render(export: dict[str, Any], zone_dir: Path, seconds: dict[str, float]) -> tuple[str, Path, Published]:
    """The zone file's text, where it goes, and the result that will say what became of it."""
    if not zone_dir.is_dir():
        raise PublishError(f"the zone directory {zone_dir} does not exist")
    try:
        text = zonefile.render(export)
    except zonefile.ZoneFileError as exc:
        raise PublishError(f"the zone export was refused: {exc}") from None
    zone = export["zone"].rstrip(".").lower()  # render accepted it: a plain absolute name
    target = zone_dir / f"{zone}.zone"
    result = Published(zone=zone, path=str(target), serial=export["serial"], seconds=seconds)
    if UNQUOTABLE & set(str(target)):
        raise PublishError(f"the zone file path {target!r} cannot be quoted for rndc addzone", **result.facts())
    return text, target, result


def _known_zone(status_args: tuple[str, ...], status: tuple[int, str, str], target: Path, result: Published) -> bool:
    """Whether BIND has the zone already, from ``rndc zonestatus``; PublishError if it loads another file."""
    status_rc, status_out, status_err = status
    # rc 1 with "not found": a new zone. Anything else (BIND down, a wrong key) is a failure.
    known = status_rc == 0
    if not known and "not found" not in status_err:
        raise PublishError(rndc_failure(status_args, status_rc, status_out, status_err), **result.facts())
    bind_file = ZONESTATUS_FILE_RE.search(status_out)
    # zonestatus prints "files: <path as configured>"; a relative one is BIND's business.
    if bind_file and bind_file[1].startswith("/") and bind_file[1] != str(target):
        raise PublishError(
            f"BIND loads {result.zone} from {bind_file[1]}, not from {target} where this playbook installs it: "
            f"point the zone's file in named.conf there, or set dns_zone_dir to {Path(bind_file[1]).parent}",
            **result.facts(),
        )
    return known


def _load(rndc: Rndc, known: bool, target: Path, result: Published) -> None:
    """``rndc addzone`` a new zone, ``rndc reload`` a known one; ``result.loaded`` says which happened."""
    # Reload asked every time, so a run after a failed reload still loads the installed file; BIND
    # itself answers "up-to-date" when the file did not change.
    load_args = ("reload", result.zone) if known else ("addzone", result.zone, addzone_config(target))
    load_rc, load_out, load_err = rndc.run(*load_args)
    if load_rc != 0:
        raise PublishError(rndc_failure(load_args, load_rc, load_out, load_err), **result.facts())
    result.loaded = "added" if not known else ("up-to-date" if "up-to-date" in load_out else "reloaded")
    result.changed = result.changed or result.loaded != "up-to-date"


# The zone task's options (playbooks/library/playdeck_dns_zone.py documents them), shared by the module
# and its action plugin.
TASK_ARGUMENTS: dict[str, dict[str, Any]] = {
    "export_file": {"type": "str", "default": ""},
    "zone_dir": {"type": "str", "default": ""},
    "named_checkzone": {"type": "str", "default": "named-checkzone"},
    "rndc": {"type": "str", "default": "rndc"},
    "rndc_conf": {"type": "str", "default": ""},
    "rndc_key": {"type": "str", "default": ""},
    "rndc_server": {"type": "str", "default": "127.0.0.1"},
    "rndc_port": {"type": "int", "default": 953},
    "server": {"type": "str", "default": "127.0.0.1"},
    "port": {"type": "int", "default": 53},
    "verify_seconds": {"type": "float", "default": 10.0},
}


def task_result(params: dict[str, Any], *, check_mode: bool) -> dict[str, Any]:
    """The zone task's Ansible result for validated ``params`` (TASK_ARGUMENTS): ``publish`` in one call."""
    if not (Path(params["export_file"]).is_absolute() and Path(params["zone_dir"]).is_absolute()):
        return {"failed": True, "msg": "the extra vars dns_export_file and dns_zone_dir (absolute paths) are required"}
    rndc = Rndc(
        program=params["rndc"],
        conf=params["rndc_conf"],
        key=params["rndc_key"],
        server=params["rndc_server"],
        port=params["rndc_port"],
    )
    try:
        published = publish(
            read_export(params["export_file"]),
            Path(params["zone_dir"]),
            rndc=rndc,
            server=params["server"],
            port=params["port"],
            named_checkzone=params["named_checkzone"],
            verify_seconds=params["verify_seconds"],
            check_mode=check_mode,
        )
    except PublishError as exc:
        return {"failed": True, "msg": str(exc), **exc.facts}
    return {"changed": published.changed, **published.facts()}


def soa_answer(zone: dns.name.Name, server: str, port: int) -> tuple[bool | None, int | None, str]:
    """Ask the server for ``zone``'s SOA: (whether it serves the zone with authority — None when it does
    not answer at all —, the serial it serves, what it said)."""
    try:
        response = dns.query.udp(
            dns.message.make_query(zone, dns.rdatatype.SOA), server, port=port, timeout=QUERY_TIMEOUT
        )
    except (dns.exception.DNSException, OSError) as exc:
        return None, None, f"does not answer ({exc.__class__.__name__}: {exc})"
    if response.rcode() != dns.rcode.NOERROR:
        return False, None, f"answers {dns.rcode.to_text(response.rcode())}"
    if not response.flags & dns.flags.AA:
        return False, None, "answers without authority"
    try:
        rrset = response.find_rrset(response.answer, zone, dns.rdataclass.IN, dns.rdatatype.SOA)
    except KeyError:
        return False, None, "answers without an SOA record of the zone"
    return True, rrset[0].serial, f"serves serial {rrset[0].serial}"


def served_serial(zone: dns.name.Name, server: str, port: int) -> tuple[int | None, str]:
    """The serial the server answers for ``zone`` with authority, else None and what it said instead."""
    serving, serial, answer = soa_answer(zone, server, port)
    return serial, f"{answer} (the zone is not loaded)" if serving is False else answer


def wait_served(zone: dns.name.Name, serial: int, server: str, port: int, timeout: float) -> tuple[int | None, str]:
    """Ask until the server serves ``serial`` (rndc reload and addzone return before the zone is loaded)
    or ``timeout`` seconds passed; the serial it last served (or None) and what it said."""
    deadline = time.monotonic() + timeout
    pause = POLL_FIRST
    while True:
        served, answer = served_serial(zone, server, port)
        if served == serial or time.monotonic() >= deadline:
            return served, answer
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, POLL_MAX)
