"""What one zone setting or one record may be, decided field by field, without the database.

Nothing a user types reaches a zone file as typed: names are built with ``dns.name`` and values parsed by
``dns.rdata`` relative to the zone's origin, then written back as dnspython's canonical text (names
absolute and lowercase). The rules are those BIND's ``named-checkzone -k fail -n fail -m fail -M fail
-S fail -i full`` applies to one record at a time, plus the ones that keep the text safe to paste into a
zone file: no control characters anywhere (a newline would let a value start a ``$INCLUDE`` line),
letters/digits/hyphen/underscore labels, TXT strings split at 255 octets and escaped by dnspython.
Rules between records (CNAME exclusivity, targets with addresses) are in ``playdeck.dns.rules``.

Every refusal is a ``playdeck.errors.ValidationError(field, message)`` with a message a person can act on.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT

from playdeck.errors import ValidationError

FORWARD = "forward"
REVERSE = "reverse"
FORWARD_TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "NS", "SRV", "TXT")
REVERSE_TYPES = ("CNAME", "NS", "PTR", "TXT")
SUPPORTED_TYPES = tuple(sorted(set(FORWARD_TYPES) | set(REVERSE_TYPES)))
REVERSE_ROOTS = (dns.name.from_text("in-addr.arpa."), dns.name.from_text("ip6.arpa."))
# RFC 2181: a TTL is 0..2^31-1 (BIND silently turns a larger one into 0).
MAX_TTL = 2**31 - 1
MAX_TXT_OCTETS = 4096
TXT_STRING_OCTETS = 255
MAX_VALUE_CHARS = 8192
# Escaped TXT data can be four times its octets (\DDD); the export packs records by this bound.
MAX_CANONICAL_CHARS = 20000
MAX_COMMENT_CHARS = 255
APEX = "@"
# The field of each type's value that is a name the record points at.
TARGET_FIELD = {"CNAME": "target", "MX": "exchange", "NS": "target", "PTR": "target", "SRV": "target"}
# Types whose target BIND's check-names wants to be a host name; MX and SRV may say "." (no service).
HOSTNAME_TARGETS = {"MX", "NS", "PTR", "SRV"}
ROOT_TARGET_ALLOWED = {"MX", "SRV"}
# Types whose owner BIND's check-names wants to be a host name (a leading "*" label allowed).
HOSTNAME_OWNERS = {"A", "AAAA", "MX"}
SRV_PROTOCOLS = {b"_tcp", b"_udp", b"_tls", b"_sctp"}
VALUE_FORMATS = {
    "A": "an IPv4 address like 192.0.2.10",
    "AAAA": "an IPv6 address like 2001:db8::10",
    "CAA": 'flags, tag and value, like 0 issue "letsencrypt.org"',
    "CNAME": "a name, like www.example.test.",
    "MX": "a preference and a host name, like 10 mail.example.test.",
    "NS": "a host name, like ns1.example.test.",
    "PTR": "a host name, like www.example.test.",
    "SRV": "priority, weight, port and host name, like 10 5 5060 sip.example.test.",
    "TXT": "text, or quoted strings",
}

# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators.
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Zone files need tabs and newlines; nothing else of that kind.
ZONEFILE_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
HOST_LABEL = re.compile(rb"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
# Service labels (_sip, _tcp, _dmarc, _acme-challenge) may use underscores.
NAME_LABEL = re.compile(rb"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")
MAILBOX_LABEL = re.compile(rb"[a-z0-9_+.-]+")
NIBBLE_LABEL = re.compile(rb"[0-9a-f]")
OCTET_LABEL = re.compile(rb"(0|[1-9][0-9]{0,2})")


@dataclass(frozen=True)
class RecordData:
    """One record as it will be stored: every field checked and canonical."""

    name: str  # relative to the zone, "@" for the apex
    rtype: str
    value: str  # dnspython's canonical text
    target: str | None  # absolute name a CNAME/MX/NS/PTR/SRV points at
    ttl: int | None = None  # None: the RRset's TTL, or the zone's default for a new RRset
    comment: str = ""

    @property
    def value_hash(self) -> str:
        return value_hash(self.value)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.rtype, self.value)

    def describe(self) -> str:
        return f"{self.name} {self.rtype} {self.value}"


def value_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def no_control_chars(field: str, text: str) -> None:
    if CONTROL_CHARS.search(text):
        raise ValidationError(field, "must not contain control characters such as newlines or tabs")


def zonefile_text(text: Any) -> str:
    """Zone file text for an import: a string without control characters other than tabs and newlines."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("zonefile", "is required")
    if ZONEFILE_CONTROL_CHARS.search(text):
        raise ValidationError("zonefile", "must not contain control characters other than tabs and newlines")
    return text


# --- names ---------------------------------------------------------------------------------------


def _text(field: str, value: Any, what: str = "a name") -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"must be {what} (text)")
    no_control_chars(field, value)
    if not value.isascii():
        raise ValidationError(field, f"'{value}' is not ASCII; write internationalised names in their xn-- form")
    return value.strip()


def _labels(name: dns.name.Name, origin: dns.name.Name | None = None) -> tuple[bytes, ...]:
    """The name's labels below ``origin``, a suffix of it (all but the root label without one).

    Slicing rather than ``relativize``: it runs several times per record of a 100,000-record import.
    """
    below = len(origin.labels) if origin is not None else 1
    return name.labels[: len(name.labels) - below]


def _check_labels(
    field: str, name: dns.name.Name, *, pattern: re.Pattern[bytes], wildcard: bool, below: dns.name.Name | None = None
) -> None:
    for index, label in enumerate(_labels(name, below)):
        if label == b"*":
            if wildcard and index == 0:
                continue
            raise ValidationError(field, f"'{name}': '*' is allowed only as the whole first label of an owner name")
        if not pattern.fullmatch(label):
            shown = label.decode("ascii", "backslashreplace")
            allowed = "letters, digits, hyphens" + ("" if pattern is HOST_LABEL else ", underscores")
            raise ValidationError(
                field, f"'{name}': label '{shown}' may contain only {allowed}, and not start or end with a hyphen"
            )


def _doubled_origin(name: dns.name.Name, origin: dns.name.Name) -> bool:
    """www.example.test.example.test.: a relative name that was meant to be absolute."""
    zone_labels = origin.labels[:-1]
    if not zone_labels or not name.is_subdomain(origin) or name == origin:
        return False
    return _labels(name, origin)[-len(zone_labels) :] == zone_labels


def _is_address(name: dns.name.Name, origin: dns.name.Name | None) -> bool:
    """An IP address written where a host name belongs ("MX 10 192.0.2.1" or "192.0.2.1.")."""
    candidates = [name.to_text(omit_final_dot=True)]
    if origin is not None and name.is_subdomain(origin) and name != origin:
        candidates.append(name.relativize(origin).to_text())
    for candidate in candidates:
        try:
            ipaddress.ip_address(candidate)
            return True
        except ValueError:
            continue
    return False


def parse_name(field: str, value: Any, origin: dns.name.Name | None) -> dns.name.Name:
    """A name from text, relative to ``origin`` unless it ends with a dot; "@" or "" is the origin."""
    text = _text(field, value)
    if origin is not None and text in ("", APEX):
        return origin
    if not text:
        raise ValidationError(field, "is required")
    try:
        name = dns.name.from_text(text, origin if origin is not None else dns.name.root)
    except dns.name.LabelTooLong:
        raise ValidationError(field, f"'{text}' has a label longer than 63 octets") from None
    except dns.name.NameTooLong:
        raise ValidationError(field, f"'{text}' makes a name longer than 255 octets (253 characters)") from None
    except dns.exception.DNSException as exc:
        raise ValidationError(field, f"'{text}' is not a valid name: {exc}") from None
    name = name.canonicalize()
    if origin is not None and _doubled_origin(name, origin):
        raise ValidationError(
            field, f"'{text}' would become {name}; write a full name with a final dot, or the part before the zone"
        )
    return name


def zone_origin(value: Any) -> dns.name.Name:
    """A zone's name: absolute (a final dot is added), lowercase, below the root."""
    name = parse_name("name", value, None)
    if name == dns.name.root:
        raise ValidationError("name", "the root zone is not managed here")
    if name in REVERSE_ROOTS:
        raise ValidationError("name", f"{name} itself is not managed here; create a zone below it")
    _check_labels("name", name, pattern=NAME_LABEL, wildcard=False)
    return name


def zone_kind(origin: dns.name.Name) -> str:
    return REVERSE if any(origin.is_subdomain(root) for root in REVERSE_ROOTS) else FORWARD


def relative_name(name: dns.name.Name, origin: dns.name.Name) -> str:
    """Text of a checked name below ``origin`` (its labels need no escaping), "@" for the origin."""
    return b".".join(_labels(name, origin)).decode("ascii") or APEX


def hostname(field: str, value: Any, origin: dns.name.Name) -> str:
    """A host name (SOA MNAME, a name server) as absolute text; relative text is relative to the zone."""
    name = parse_name(field, value, origin)
    _check_hostname_target(field, name, origin, allow_root=False)
    return name.to_text()


def mailbox(field: str, value: Any, origin: dns.name.Name) -> str:
    """The SOA RNAME: hostmaster@example.test or hostmaster.example.test., as absolute name text."""
    text = _text(field, value, "a mailbox")
    if "@" in text and text != APEX:
        local, _, domain = text.rpartition("@")
        if not local or not domain:
            raise ValidationError(field, f"'{text}' is not a mailbox")
        text = local.replace("\\", "\\\\").replace(".", "\\.") + "." + domain.rstrip(".") + "."
    name = parse_name(field, text, origin)
    labels = _labels(name)
    if len(labels) < 2 or not MAILBOX_LABEL.fullmatch(labels[0]):
        raise ValidationError(field, f"'{value}' is not a mailbox like hostmaster@example.test")
    _check_labels(field, dns.name.Name(name.labels[1:]), pattern=HOST_LABEL, wildcard=False)
    return name.to_text()


def _check_hostname_target(field: str, name: dns.name.Name, origin: dns.name.Name, *, allow_root: bool) -> None:
    if name == dns.name.root:
        if allow_root:
            return
        raise ValidationError(field, "must name a host, not the root '.'")
    if _is_address(name, origin):
        raise ValidationError(field, f"'{name}' looks like an IP address; it must be a host name")
    _check_labels(field, name, pattern=HOST_LABEL, wildcard=False)


def owner(value: Any, rtype: str, origin: dns.name.Name, kind: str) -> dns.name.Name:
    """A record's owner: inside the zone, with the labels its type allows."""
    name = parse_name("name", value, origin)
    if not name.is_subdomain(origin):
        raise ValidationError("name", f"'{name}' is outside the zone {origin}")
    labels = _labels(name, origin)
    wildcard_ok = rtype not in ("NS", "PTR", "SRV")
    pattern = HOST_LABEL if rtype in HOSTNAME_OWNERS else NAME_LABEL
    _check_labels("name", name, pattern=pattern, wildcard=wildcard_ok, below=origin)
    if rtype == "CNAME" and name == origin:
        raise ValidationError("name", "a CNAME cannot be at the zone's apex (it has SOA and NS records)")
    if rtype == "SRV" and not _is_service_name(labels):
        raise ValidationError("name", "an SRV record's name starts with _service._protocol, like _sip._tcp")
    if rtype == "PTR" and kind == REVERSE:
        _check_reverse_owner(name)
    return name


def _is_service_name(labels: tuple[bytes, ...]) -> bool:
    return any(label in SRV_PROTOCOLS and labels[i - 1].startswith(b"_") for i, label in enumerate(labels) if i)


def _check_reverse_owner(name: dns.name.Name) -> None:
    in_addr, ip6 = REVERSE_ROOTS
    if name.is_subdomain(in_addr):
        labels, pattern, depth, unit = _labels(name, in_addr), OCTET_LABEL, 4, "decimal octets (0-255)"
    else:
        labels, pattern, depth, unit = _labels(name, ip6), NIBBLE_LABEL, 32, "single hex digits"
    if len(labels) != depth or not all(pattern.fullmatch(label) for label in labels):
        raise ValidationError("name", f"'{name}' is not a full reverse name of an address ({depth} labels of {unit})")
    if pattern is OCTET_LABEL and any(int(label) > 255 for label in labels):
        raise ValidationError("name", f"'{name}' is not a reverse name of an IPv4 address")


# --- record fields -------------------------------------------------------------------------------


def parse_ttl(value: Any, field: str = "ttl") -> int:
    """Seconds, 0..2147483647 (RFC 2181); a string of ASCII digits is accepted (form fields), nothing else:
    ``str.isdigit`` is also true for "²" (which ``int()`` refuses) and "١٢" (which it reads as 12)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        # int() refuses more than 4,300 digits (a 500); a number of over 20 is out of range anyway.
        value = int(value) if len(value) <= 20 else MAX_TTL + 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be a whole number of seconds")
    if not 0 <= value <= MAX_TTL:
        raise ValidationError(field, f"must be between 0 and {MAX_TTL} seconds")
    return value


def parse_comment(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("comment", "must be text")
    no_control_chars("comment", value)
    if len(value) > MAX_COMMENT_CHARS:
        raise ValidationError("comment", f"at most {MAX_COMMENT_CHARS} characters")
    return value.strip()


def parse_type(value: Any, kind: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("type", f"is required (one of {', '.join(SUPPORTED_TYPES)})")
    text = value.strip().upper()
    no_control_chars("type", text)
    allowed = FORWARD_TYPES if kind == FORWARD else REVERSE_TYPES
    if text in allowed:
        return text
    if text in SUPPORTED_TYPES:
        where = "reverse" if text == "PTR" else "forward"
        raise ValidationError("type", f"{text} records belong in {where} zones")
    raise ValidationError("type", f"'{value}' is not supported here (one of {', '.join(allowed)})")


def _unquoted_specials(text: str) -> str | None:
    """The first ; ( or ) outside quotes: zone-file syntax (a comment, a line continuation), never data."""
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char in ";()" and not quoted:
            return char
    return None


def _txt_from_plain_text(text: str) -> dns.rdata.Rdata:
    """Text typed as is (no quotes): one string, split into 255-octet pieces; dnspython escapes it."""
    data = text.encode()
    pieces = [data[i : i + TXT_STRING_OCTETS] for i in range(0, len(data), TXT_STRING_OCTETS)]
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, pieces)


def _parse_value(rtype_: str, text: str, origin: dns.name.Name) -> dns.rdata.Rdata:
    if rtype_ == "TXT" and not text.lstrip().startswith('"'):
        return _txt_from_plain_text(text)
    special = _unquoted_specials(text)
    if special:
        raise ValidationError("value", f"'{special}' is allowed only inside double quotes")
    try:
        return dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(rtype_), text, origin=origin, relativize=False
        )
    except (dns.exception.DNSException, ValueError) as exc:
        raise ValidationError("value", _value_error(rtype_, text, exc)) from None


def _value_error(rtype_: str, text: str, exc: Exception) -> str:
    try:
        family = ipaddress.ip_address(text.strip()).version
    except ValueError:
        family = None
    if rtype_ == "A" and family == 6:
        return f"'{text}' is an IPv6 address; use an AAAA record"
    if rtype_ == "AAAA" and family == 4:
        return f"'{text}' is an IPv4 address; use an A record"
    if rtype_ == "TXT" and "too long" in str(exc):
        return f"each quoted string is at most {TXT_STRING_OCTETS} octets; type the text without quotes to split it"
    return f"'{text}' is not a valid {rtype_} value ({VALUE_FORMATS[rtype_]}): {exc}"


def _canonical(rdata: dns.rdata.Rdata, rtype_: str, origin: dns.name.Name) -> tuple[dns.rdata.Rdata, str | None]:
    """Names in the value lowercase and checked; returns the rdata and its target text (or None)."""
    target_field = TARGET_FIELD.get(rtype_)
    target = None
    if target_field:
        name = getattr(rdata, target_field).canonicalize()
        rdata = rdata.replace(**{target_field: name})
        if _doubled_origin(name, origin):
            raise ValidationError("value", f"'{name}' repeats the zone name; end a full name with a final dot")
        if rtype_ in HOSTNAME_TARGETS:
            _check_hostname_target("value", name, origin, allow_root=rtype_ in ROOT_TARGET_ALLOWED)
        else:
            if name == dns.name.root:
                raise ValidationError("value", "a CNAME must point at a name, not the root '.'")
            _check_labels("value", name, pattern=NAME_LABEL, wildcard=False)
        target = name.to_text()
    if rtype_ == "CAA":
        rdata = rdata.replace(tag=rdata.tag.lower())
    if rtype_ == "TXT":
        octets = sum(len(piece) for piece in rdata.strings)
        if octets > MAX_TXT_OCTETS:
            raise ValidationError("value", f"TXT data is at most {MAX_TXT_OCTETS} octets ({octets} given)")
    return rdata, target


def record(
    origin: dns.name.Name,
    kind: str,
    *,
    name: Any,
    rtype: Any,
    value: Any,
    ttl: Any = None,
    comment: Any = None,
) -> RecordData:
    """One record from what a user typed, checked field by field and canonical."""
    rtype_ = parse_type(rtype, kind)
    owner_name = owner(name, rtype_, origin, kind)
    text = _text("value", value, "a value") if rtype_ != "TXT" else _txt_text(value)
    if not text:
        raise ValidationError("value", f"is required ({VALUE_FORMATS[rtype_]})")
    if len(text) > MAX_VALUE_CHARS:
        raise ValidationError("value", f"at most {MAX_VALUE_CHARS} characters")
    rdata = _parse_value(rtype_, text, origin)
    return _record_data(origin, owner_name, rtype_, rdata, ttl, comment)


def _txt_text(value: Any) -> str:
    # TXT data may be any Unicode text (stored UTF-8, escaped by dnspython); only control characters go.
    if not isinstance(value, str):
        raise ValidationError("value", "must be text")
    no_control_chars("value", value)
    return value


def record_from_rdata(
    origin: dns.name.Name, kind: str, name: dns.name.Name, rdata: dns.rdata.Rdata, ttl: int
) -> RecordData:
    """One record of a parsed zone file, held to the same rules as a typed one."""
    rtype_ = parse_type(dns.rdatatype.to_text(rdata.rdtype), kind)
    owner_name = owner(name.to_text(), rtype_, origin, kind)
    return _record_data(origin, owner_name, rtype_, rdata, ttl, None)


def _record_data(
    origin: dns.name.Name, owner_name: dns.name.Name, rtype_: str, rdata: dns.rdata.Rdata, ttl: Any, comment: Any
) -> RecordData:
    rdata, target = _canonical(rdata, rtype_, origin)
    value = rdata.to_text()
    # What makes the text safe in a zone file line (and as a tab/newline-separated field: export).
    no_control_chars("value", value)
    if len(value) > MAX_CANONICAL_CHARS:
        raise ValidationError("value", f"written out, the value is longer than {MAX_CANONICAL_CHARS} characters")
    return RecordData(
        name=relative_name(owner_name, origin),
        rtype=rtype_,
        value=value,
        target=target,
        ttl=None if ttl is None else parse_ttl(ttl),
        comment=parse_comment(comment),
    )


def parse_actor(value: Any) -> str:
    """Who makes a change, as the history shows it."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("who", "is required")
    no_control_chars("who", value)
    if len(value) > 100:
        raise ValidationError("who", "at most 100 characters")
    return value.strip()
