"""Zone files: render an export (``playdeck.dns.export``) to BIND zone-file text, validate it, install it.

The export's values are already dnspython's canonical text, so rendering is string joining; what it still
guards is the zone-file *syntax*: a name or value that could start a directive, swallow the next lines
(an open parenthesis or quote, a trailing backslash) or carry a newline is refused, never written.
Owner names are held to a pattern of plain labels there (the limits dns.name enforces, at a twentieth of
its cost), and so are they in ``check``.

Validation is twofold, as BIND would load the file and as dnspython reads it:

- ``named-checkzone`` with strict flags (``CHECKZONE_FLAGS``) — BIND's own loader;
- ``check`` — dnspython's verdict, line by line: the directives, every owner name, every record's data
  (``dns.rdata.from_text``), SOA and NS at the apex, CNAME exclusivity, one TTL per RRset.

Cost at 100,000 records (``python -m bench.dns_render``): ``dns.zone.from_text`` takes 11 s or more and
``dns.zonefile.read_rrsets`` is quadratic (8,000 records: 143 s), so ``check`` matches each line with one
strict pattern and judges only the owner and the data. ``dns.rdata.from_text`` costs 25-55 µs a record
(8-9 s of CPU for a new 100,000-record zone), mostly its tokenizer and object set-up: data in the plain
shapes render writes for A, AAAA, CNAME, NS, PTR, MX, SRV and TXT gets dnspython's verdict from the few
rules it applies to them (``data_accepted``: addresses through dnspython's own parsers, name lengths,
16-bit numbers, string lengths), everything else goes through ``dns.rdata.from_text``; about 1 s for
the new zone. A line identical to one of the installed version (which passed the same checks before it
was installed) is not judged again: a regeneration pays for what changed. ``validate_file`` runs
``named-checkzone`` in parallel with ``check``.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dns.exception
import dns.ipv4
import dns.ipv6
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA

from playdeck.dns.serials import serial_gt

# Strict: what BIND only warns about by default (owner-name syntax, NS/MX/SRV targets that are CNAMEs
# or addresses, in-zone targets without addresses) fails instead.
CHECKZONE_FLAGS = ("-k", "fail", "-n", "fail", "-m", "fail", "-M", "fail", "-S", "fail", "-i", "full")
CHECKZONE_TIMEOUT = 300
# Lines of named-checkzone's output quoted in an error: the first ones name the problem.
CHECKZONE_LINES = 10
MAX_TTL = 2**31 - 1  # RFC 2181; BIND silently turns larger TTLs into 0
MAX_SERIAL = 2**32 - 1
NEW_FILE_MODE = 0o644  # zone data is public; named (often another user) must read it

# The zone-file lexicon, printable ASCII only. A token has no blank, quote, parenthesis or ';' unless
# escaped; a quoted string has no bare quote; a backslash always escapes the next character, so none
# dangles at the end; single blanks between. Possessive quantifiers (++, *+): linear time on any input.
_ESCAPE = r"\\[!-~]"
_TOKEN = rf"(?:[!#-'*-:<-\[\]-~]++|{_ESCAPE})++"
_QUOTED = r'"(?:[ !#-\[\]-~]++|\\[ -~])*+"'
_VALUE = rf"(?:{_TOKEN}|{_QUOTED})(?: (?:{_TOKEN}|{_QUOTED}))*+"
VALUE_RE = re.compile(_VALUE)
# Owner names are plain: '@' or labels of letters, digits, '-', '_' and '*' (1-63 each), relative or
# absolute. No escapes, so a name's text is the name, and two names are equal when their lower-cased
# absolute texts are: bookkeeping by string is far cheaper than hashing dns.name objects.
_NAME = r"@|(?:[A-Za-z0-9_*-]{1,63}\.)*[A-Za-z0-9_*-]{1,63}\.?"
NAME_RE = re.compile(_NAME)
MAX_NAME_TEXT = 254  # an absolute plain name of 254 characters (final dot included) is 255 octets on the wire
MAX_NAME_WIRE = 255
TYPE_RE = re.compile(r"[A-Z][A-Z0-9]*")
# The one line shape ``render`` writes and ``check`` accepts: owner, TTL, class, type, data.
RECORD_RE = re.compile(rf"({_NAME}) ([0-9]{{1,10}}) IN ({TYPE_RE.pattern}) ({_VALUE})")
DIRECTIVE_RE = re.compile(r"\$(ORIGIN|TTL) (\S+)")
HEADER = ("ORIGIN", "TTL")  # the directives, in this order, before any record
CNAME_COMPANIONS = frozenset({"CNAME", "RRSIG", "NSEC"})  # the only types allowed beside a CNAME (RFC 2181)
# Data shapes whose dnspython verdict ``data_accepted`` knows (groups: 16-bit numbers, then a name).
_PLAIN_NAME = f"({_NAME})"
_UINT16 = r"([0-9]{1,5})"
_TXT_STRING = r'"[ !#-\[\]-~]{0,255}"'
_FAST_SHAPES = {
    "A": re.compile(r"[0-9.]{7,15}"),
    "AAAA": re.compile(r"[0-9A-Fa-f:.]{2,45}"),
    "CNAME": re.compile(_PLAIN_NAME),
    "DNAME": re.compile(_PLAIN_NAME),
    "NS": re.compile(_PLAIN_NAME),
    "PTR": re.compile(_PLAIN_NAME),
    "MX": re.compile(rf"{_UINT16} {_PLAIN_NAME}"),
    "SRV": re.compile(rf"{_UINT16} {_UINT16} {_UINT16} {_PLAIN_NAME}"),
    "TXT": re.compile(rf"{_TXT_STRING}(?: {_TXT_STRING})*+"),
}


class ZoneFileError(ValueError):
    """The export or the zone-file text is not acceptable; the message says where and why."""


# --- render -------------------------------------------------------------------------------------------


def render(export: Mapping[str, Any]) -> str:
    """The zone file for ``export``: $ORIGIN, $TTL, the SOA with the export's serial, then the records."""
    try:
        origin = zone_origin(export["zone"])
        default_ttl = _ttl(export["default_ttl"], "default_ttl")
        soa = _soa(export["soa"], export["serial"])
        records = export["records"]
    except (KeyError, TypeError) as exc:
        raise ZoneFileError(f"export: missing or malformed field {exc}") from None
    lines = [
        f"; {origin} serial {soa.serial}: generated by Playdeck from its database, edits here are overwritten",
        f"$ORIGIN {origin}",
        f"$TTL {default_ttl}",
        f"@ {default_ttl} IN SOA {soa.to_text()}",
    ]
    origin_text = origin.to_text().lower()
    known_types: set[str] = set()
    last_name = None
    for index, record in enumerate(records):
        try:
            name, rtype, value, ttl = record["name"], record["type"], record["value"], record.get("ttl")
            # Records come sorted by name: each owner is checked once.
            if name != last_name:
                _check_owner(name, origin_text)
                last_name = name
            if rtype not in known_types:
                _check_type(rtype)
                known_types.add(rtype)
            if not (
                isinstance(value, str)
                and value.isascii()
                and value.isprintable()
                and value[:1] != "$"
                and VALUE_RE.fullmatch(value)
            ):
                raise ZoneFileError(f"value {_show(value)} {_value_problem(value)}")
            ttl = default_ttl if ttl is None else _ttl(ttl, "ttl")
        except ZoneFileError as exc:
            raise ZoneFileError(f"record {index} {_describe(record)}: {exc}") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise ZoneFileError(f"record {index} {_describe(record)}: missing or malformed field {exc}") from None
        lines.append(f"{name} {ttl} IN {rtype} {value}")
    lines.append("")
    return "\n".join(lines)


def zone_origin(zone: Any) -> dns.name.Name:
    """The zone's absolute name; refused unless it is a plain absolute name (it names files, too)."""
    if not (isinstance(zone, str) and zone.endswith(".") and zone.isascii() and NAME_RE.fullmatch(zone)):
        raise ZoneFileError(f"zone {_show(zone)} is not a plain absolute name (like 'example.test.')")
    try:
        return dns.name.from_text(zone)
    except dns.exception.DNSException as exc:
        raise ZoneFileError(f"zone {_show(zone)}: {exc}") from None


def _soa(soa: Mapping[str, Any], serial: Any) -> dns.rdtypes.ANY.SOA.SOA:
    """Built by dnspython from parsed names and checked integers, and written by it: never pasted text.

    (A mailbox may have an escaped dot in its first label, so these names are not held to NAME_RE.)
    """
    names = {}
    for field in ("mname", "rname"):
        text = soa[field]
        if not (isinstance(text, str) and text.endswith(".") and text.isascii() and text.isprintable()):
            raise ZoneFileError(f"soa.{field} {_show(text)} is not an absolute name")
        try:
            names[field] = dns.name.from_text(text)
        except dns.exception.DNSException as exc:
            raise ZoneFileError(f"soa.{field} {_show(text)}: {exc}") from None
    numbers = {"serial": serial} | {field: soa[field] for field in ("refresh", "retry", "expire", "minimum")}
    for field, number in numbers.items():
        if type(number) is not int or not 0 <= number <= MAX_SERIAL:
            raise ZoneFileError(f"{field} {_show(number)} is not a 32-bit unsigned integer")
    return dns.rdtypes.ANY.SOA.SOA(dns.rdataclass.IN, dns.rdatatype.SOA, names["mname"], names["rname"], **numbers)


def _check_owner(name: Any, origin: str) -> None:
    """A plain name inside the zone, short enough: what dns.name checks for a plain name, by pattern."""
    if not (isinstance(name, str) and NAME_RE.fullmatch(name)):
        raise ZoneFileError(
            f"name {_show(name)} is not '@' or labels of letters, digits, '-', '_' and '*' (1 to 63 each)"
        )
    problem = _owner_problem(name, origin)
    if problem:
        raise ZoneFileError(f"name {_show(name)} {problem}")


def _owner_problem(name: str, origin: str) -> str | None:
    """What is wrong with plain ``name`` (NAME_RE) as an owner in the zone ``origin``, or None."""
    absolute = absolute_name(name, origin)
    if not (absolute == origin or absolute.endswith("." + origin)):
        return f"is outside the zone {origin}"
    if len(absolute) > MAX_NAME_TEXT:
        return "makes a name longer than 255 octets"
    return None


def absolute_name(name: str, origin: str) -> str:
    """The lower-cased absolute text of plain ``name`` in the zone ``origin`` (lower case, final dot)."""
    if name == "@":
        return origin
    name = name.lower()
    return name if name.endswith(".") else f"{name}.{origin}"


def _check_type(rtype: Any) -> None:
    if not (isinstance(rtype, str) and TYPE_RE.fullmatch(rtype)):
        raise ZoneFileError(f"type {_show(rtype)} is not an upper-case record type")
    try:
        number = dns.rdatatype.from_text(rtype)
    except dns.exception.DNSException:
        raise ZoneFileError(f"type {_show(rtype)} is unknown") from None
    if number == dns.rdatatype.SOA or dns.rdatatype.is_metatype(number):
        raise ZoneFileError(f"type {rtype} cannot be a record of the export (the SOA comes from 'soa')")


def _ttl(ttl: Any, field: str) -> int:
    if type(ttl) is not int or not 0 <= ttl <= MAX_TTL:
        raise ZoneFileError(f"{field} {_show(ttl)} is not an integer from 0 to {MAX_TTL}")
    return ttl


def _value_problem(value: Any) -> str:
    """Why ``value`` was refused (only called once it was)."""
    if not isinstance(value, str):
        return "is not a string"
    if not value.isascii():
        return "has non-ASCII characters (canonical text escapes them as \\DDD)"
    if not value.isprintable():
        return "has a control character (newline, tab, ...)"
    if value[:1] == "$":
        return "starts with '$' (a zone-file directive)"
    if not value.strip():
        return "is empty"
    return (
        "has ';', '(' or ')' outside quotes, an unbalanced quote, a dangling backslash, "
        "or blanks at its ends or in a row"
    )


def _describe(record: Any) -> str:
    if isinstance(record, Mapping):
        return f"({_show(record.get('name'))} {_show(record.get('type'))})"
    return _show(record)


def _show(value: Any, limit: int = 80) -> str:
    """A value quoted for an error message: repr, so a hostile newline shows as \\n, and shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- check (dnspython) --------------------------------------------------------------------------------


def check(text: str, zone: str, previous: str | None = None) -> None:
    """Validate zone-file ``text`` for ``zone`` with dnspython; raise ZoneFileError at the first problem.

    Accepts the shape ``render`` writes (comments, ``$ORIGIN`` then ``$TTL``, one record a line with a
    plain owner name) and nothing else: no other directive, no parentheses or continuation lines.
    ``previous`` is the text of the installed version, which passed this check when it was installed:
    a record line identical to one of its lines has its owner and data parsed already. Every line's
    shape, TTL and type, and the zone-wide rules, are checked all the same.
    """
    origin = zone_origin(zone)
    origin_text = origin.to_text().lower()
    origin_wire = len(origin.to_wire())
    if not text.endswith("\n"):
        raise ZoneFileError("the zone file does not end with a newline")
    checked_lines = set(previous.split("\n")) if previous else set()
    checked_owners: set[str] = set()
    checked_data: set[tuple[str, str]] = set()
    rrset_ttls: dict[tuple[str, str], int] = {}
    cnames: dict[str, int] = {}  # owner -> line of its CNAME
    other_data: set[str] = set()  # owners with data other than a CNAME
    rdtypes: dict[str, int] = {}
    header: list[str] = []
    serial = None
    for number, line in enumerate(text[:-1].split("\n"), 1):
        match = RECORD_RE.fullmatch(line)
        if match is None:
            _check_other_line(line, number, header, origin)
            continue
        if len(header) != len(HEADER):
            raise ZoneFileError(f"line {number}: a record before the '$ORIGIN {origin}' and '$TTL' lines")
        owner_text, ttl_text, rtype, value = match.groups()
        try:
            ttl = int(ttl_text)
            if ttl > MAX_TTL:
                raise ZoneFileError(f"TTL {ttl} is above {MAX_TTL}")
            if rtype not in rdtypes:
                rdtypes[rtype] = _parse_type(rtype)
            if rtype == "SOA":
                serial = _check_soa(owner_text, origin, value, serial)
            elif line not in checked_lines:
                # Each distinct owner and each distinct data once: most of the cost.
                if owner_text not in checked_owners:
                    problem = _owner_problem(owner_text, origin_text)
                    if problem:
                        raise ZoneFileError(f"owner {_show(owner_text)} {problem}")
                    checked_owners.add(owner_text)
                if (rtype, value) not in checked_data:
                    if not data_accepted(rtype, value, origin_wire):
                        _parse_data(rdtypes[rtype], value, origin)
                    checked_data.add((rtype, value))
        except ZoneFileError as exc:
            raise ZoneFileError(f"line {number}: {exc}") from None
        owner = absolute_name(owner_text, origin_text)
        if rrset_ttls.setdefault((owner, rtype), ttl) != ttl:
            raise ZoneFileError(f"line {number}: the {owner} {rtype} records have different TTLs: {_show(line)}")
        if rtype == "CNAME":
            cnames.setdefault(owner, number)
        elif rtype not in CNAME_COMPANIONS:
            other_data.add(owner)
    _check_zone_rules(origin_text, serial, rrset_ttls, cnames, other_data)


def _check_other_line(line: str, number: int, header: list[str], origin: dns.name.Name) -> None:
    if line.startswith(";") and line.isascii() and line.isprintable():
        return
    directive = DIRECTIVE_RE.fullmatch(line)
    if directive is None:
        raise ZoneFileError(f"line {number} is not a record, comment, $ORIGIN or $TTL line: {_show(line)}")
    keyword, argument = directive.groups()
    # Exactly one $ORIGIN, then one $TTL, before the records: a later one would change their meaning.
    if len(header) == len(HEADER) or keyword != HEADER[len(header)]:
        raise ZoneFileError(f"line {number}: ${keyword} out of place (only $ORIGIN then $TTL, once, at the top)")
    if keyword == "ORIGIN":
        try:
            stated = dns.name.from_text(argument)
        except dns.exception.DNSException as exc:
            raise ZoneFileError(f"line {number}: $ORIGIN {_show(argument)}: {exc}") from None
        if stated != origin:
            raise ZoneFileError(f"line {number}: $ORIGIN {stated} is not the zone {origin}")
    elif not (argument.isascii() and argument.isdigit() and int(argument) <= MAX_TTL):
        raise ZoneFileError(f"line {number}: $TTL {_show(argument)} is not an integer from 0 to {MAX_TTL}")
    header.append(keyword)


def _parse_type(rtype: str) -> int:
    try:
        number = dns.rdatatype.from_text(rtype)
    except dns.exception.DNSException:
        raise ZoneFileError(f"type {rtype} is unknown") from None
    if dns.rdatatype.is_metatype(number):
        raise ZoneFileError(f"{rtype} is not a record type")
    return number


def data_accepted(rtype: str, value: str, origin_wire: int) -> bool:
    """True when dnspython is known to accept ``value`` as ``rtype`` data, without its tokenizer.

    ``dns.rdata.from_text`` costs 25-55 µs a record, mostly its tokenizer and object set-up, not the
    checks. For data in the plain shapes below, what it checks is few rules, applied here at a tenth
    of the cost: an address goes through dnspython's own address parser (what A and AAAA do with their
    one token), a plain name (NAME_RE: labels of 1 to 63 by the pattern) needs only to fit in 255
    octets, a 16-bit field at most 5 digits and 65535, a quoted string without escapes at most 255
    characters. False means "not shown here", never "refused": the caller asks dnspython then, so
    anything dnspython refuses is refused with its message (tests/dns/test_zonefile.py holds these
    verdicts to dnspython's).
    """
    shape = _FAST_SHAPES.get(rtype)
    match = shape.fullmatch(value) if shape else None
    if match is None:
        return False
    if rtype == "A" or rtype == "AAAA":
        # from_text canonicalizes: inet_ntoa(inet_aton(value)); only inet_aton can refuse.
        try:
            (dns.ipv4 if rtype == "A" else dns.ipv6).inet_aton(value)
        except (dns.exception.DNSException, ValueError):
            return False
        return True
    if rtype == "TXT":
        return True  # the shape holds each string to 255 characters, escapes and quotes excluded
    *numbers, name = match.groups()
    return all(int(number) <= 0xFFFF for number in numbers) and plain_name_fits(name, origin_wire)


def plain_name_fits(name: str, origin_wire: int) -> bool:
    """Whether a NAME_RE name, made absolute with an origin of ``origin_wire`` octets, fits in 255 octets.

    Its labels are 1 to 63 octets by the pattern, so the length is all ``dns.name.from_text`` has left
    to refuse: the text of labels and dots is one octet short of their wire form (each dot stands for
    the next label's length octet, the first label's is missing), and an absolute name's final dot
    already stands for the root.
    """
    if name == "@":
        return True
    if name.endswith("."):
        return len(name) + 1 <= MAX_NAME_WIRE
    return len(name) + 1 + origin_wire <= MAX_NAME_WIRE


def _parse_data(rdtype: int, value: str, origin: dns.name.Name) -> dns.rdata.Rdata:
    try:
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=origin)
    except (dns.exception.DNSException, ValueError) as exc:
        raise ZoneFileError(f"{dns.rdatatype.to_text(rdtype)} data {_show(value)}: {exc}") from None


def _check_soa(owner_text: str, origin: dns.name.Name, value: str, serial: int | None) -> int:
    if dns.name.from_text(owner_text, origin) != origin:
        raise ZoneFileError(f"an SOA record at {owner_text}, not at the apex")
    if serial is not None:
        raise ZoneFileError("a second SOA record")
    return _parse_data(dns.rdatatype.SOA, value, origin).serial


def _check_zone_rules(
    origin: str, serial: int | None, rrsets: dict[tuple[str, str], int], cnames: dict[str, int], other_data: set[str]
) -> None:
    if serial is None:
        raise ZoneFileError(f"no SOA record at the apex {origin}")
    if (origin, "NS") not in rrsets:
        raise ZoneFileError(f"no NS record at the apex {origin}")
    for owner in sorted(cnames.keys() & other_data, key=cnames.get)[:1]:
        others = sorted(rtype for name, rtype in rrsets if name == owner and rtype not in CNAME_COMPANIONS)
        raise ZoneFileError(f"line {cnames[owner]}: {owner} has a CNAME and other data ({', '.join(others)})")


def serial_of(text: str) -> int | None:
    """The SOA serial of zone-file text in ``render``'s shape, or None if it has no such SOA line."""
    for line in text.split("\n", 8)[:8]:  # the SOA is among the first lines
        match = RECORD_RE.fullmatch(line)
        if match is not None and match[3] == "SOA":
            fields = match[4].split(" ")
            return int(fields[2]) if len(fields) == 7 and fields[2].isdigit() else None
    return None


def check_serial_advances(serial: int, installed: str | None) -> None:
    """Refuse to replace the installed zone by one whose serial is not newer (RFC 1982).

    Secondaries only transfer a zone whose serial went up, and a late regeneration must never put back
    older data over newer.
    """
    old = serial_of(installed) if installed else None
    if old is None:
        return
    if serial == old:
        raise ZoneFileError(f"the content changed but the serial did not (still {serial}); bump the serial")
    if not serial_gt(serial, old):
        raise ZoneFileError(f"serial {serial} is not newer than the installed serial {old} (RFC 1982)")


# --- validate and install -----------------------------------------------------------------------------


def named_checkzone(zone: str, path: Path, program: str = "named-checkzone") -> subprocess.Popen:
    """Start BIND's checker on ``path``; collect it with ``checkzone_problem``."""
    try:
        return subprocess.Popen(
            [program, *CHECKZONE_FLAGS, zone, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise ZoneFileError(f"cannot run {program} ({exc}): install bind9utils or set its path") from None


def checkzone_problem(process: subprocess.Popen) -> str | None:
    """named-checkzone's verdict: None if it accepted the zone, else the first lines of its output."""
    try:
        output, _ = process.communicate(timeout=CHECKZONE_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return f"named-checkzone did not finish within {CHECKZONE_TIMEOUT} s"
    if process.returncode == 0:
        return None
    lines = [line for line in output.splitlines() if line.strip()]
    shown = "\n".join(lines[:CHECKZONE_LINES]) + ("\n..." if len(lines) > CHECKZONE_LINES else "")
    return f"named-checkzone rejected the zone (exit {process.returncode}):\n{shown}"


def validate_file(
    path: Path, text: str, zone: str, previous: str | None = None, program: str = "named-checkzone"
) -> None:
    """Both validations of ``text`` (written at ``path``); named-checkzone runs while dnspython checks."""
    checker = named_checkzone(zone, path, program)
    problems = []
    try:
        check(text, zone, previous)
    except ZoneFileError as exc:
        problems.append(f"dnspython rejected the zone: {exc}")
    finally:
        verdict = checkzone_problem(checker)
    if verdict:
        problems.insert(0, verdict)
    if problems:
        raise ZoneFileError("\n".join(problems))


def install(target: Path, text: str, zone: str, program: str = "named-checkzone", dry_run: bool = False) -> bool:
    """Validate ``text`` and put it at ``target`` atomically; False if ``target`` already holds it.

    The text is written to a temporary file beside ``target`` and validated there, so what was checked
    is what gets renamed into place (``os.replace``: readers see the old or the new file, never a part).
    The version replaced stays as ``<target>.prev``. If anything fails, nothing changed; with
    ``dry_run`` nothing changes either way.
    """
    installed = target.read_text(errors="replace") if target.exists() else None
    if installed == text:
        return False
    serial = serial_of(text)
    if serial is None:
        raise ZoneFileError("the zone file has no SOA line where render writes it")
    check_serial_advances(serial, installed)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temporary = Path(temporary)
    try:
        with os.fdopen(descriptor, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        _copy_access(target, temporary)
        try:
            validate_file(temporary, text, zone, installed, program)
        except ZoneFileError as exc:
            # named-checkzone names the file it read: say which one that really is.
            raise ZoneFileError(str(exc).replace(str(temporary), f"{target} (new version)")) from None
        if dry_run:
            temporary.unlink()
            return True
        if installed is not None:
            _keep_previous(target)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_directory(target.parent)
    return True


def _copy_access(target: Path, temporary: Path) -> None:
    """The new file gets the installed one's mode and owner (an operator's choice), or 0644."""
    if not target.exists():
        os.chmod(temporary, NEW_FILE_MODE)
        return
    stat = target.stat()
    os.chmod(temporary, stat.st_mode & 0o7777)
    if os.geteuid() == 0:
        os.chown(temporary, stat.st_uid, stat.st_gid)


def _keep_previous(target: Path) -> None:
    """``<target>.prev`` becomes the installed version; a hard link, so ``target`` never goes missing."""
    previous = target.with_name(target.name + ".prev")
    link = target.with_name(f".{target.name}.prev.tmp")
    link.unlink(missing_ok=True)
    os.link(target, link)
    os.replace(link, previous)


def _sync_directory(directory: Path) -> None:
    """Make the renames durable: a crash right after must not bring the old file back."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
