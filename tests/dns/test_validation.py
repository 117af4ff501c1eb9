"""What one record may be: canonical values accepted, hostile and broken input refused with nothing stored."""

from __future__ import annotations

import dns.name
import pytest

from playdeck import db
from playdeck.dns import records, zones
from playdeck.dns.validation import FORWARD, REVERSE, record
from playdeck.errors import ValidationError
from tests.dns.conftest import ZONE, zone_state

ORIGIN = dns.name.from_text(ZONE)
REVERSE_ORIGIN = dns.name.from_text("2.0.192.in-addr.arpa.")


@pytest.mark.parametrize(
    ("name", "rtype", "value", "stored_name", "stored_value"),
    [
        ("www", "A", "192.0.2.10", "www", "192.0.2.10"),
        ("WWW", "a", " 192.0.2.10 ", "www", "192.0.2.10"),
        ("www.example.test.", "A", "192.0.2.10", "www", "192.0.2.10"),
        ("@", "AAAA", "2001:DB8:0:0::1", "@", "2001:db8::1"),
        ("", "MX", "10 Mail", "@", "10 mail.example.test."),
        ("@", "MX", "10 mail.example.org.", "@", "10 mail.example.org."),
        ("@", "MX", "0 .", "@", "0 ."),  # null MX (RFC 7505)
        ("*.dev", "A", "192.0.2.20", "*.dev", "192.0.2.20"),
        ("*", "CNAME", "www", "*", "www.example.test."),
        ("_acme-challenge", "CNAME", "_acme-challenge.example.org.", "_acme-challenge", "_acme-challenge.example.org."),
        ("_sip._tcp", "SRV", "10 5 5060 SIP", "_sip._tcp", "10 5 5060 sip.example.test."),
        ("printer._ipp._tcp", "SRV", "0 0 631 printer", "printer._ipp._tcp", "0 0 631 printer.example.test."),
        ("@", "CAA", '0 ISSUE "letsencrypt.org"', "@", '0 issue "letsencrypt.org"'),
        ("sub", "NS", "ns.example.org.", "sub", "ns.example.org."),
        ("t", "TXT", "v=spf1 include:_spf.example.org ~all", "t", '"v=spf1 include:_spf.example.org ~all"'),
        ("t", "TXT", 'say "hi"; \\o/', "t", '"say \\"hi\\"; \\\\o/"'),
        ("t", "TXT", '"two" "strings"', "t", '"two" "strings"'),
        ("t", "TXT", "é", "t", '"\\195\\169"'),
        ("t", "TXT", "$INCLUDE /etc/passwd", "t", '"$INCLUDE /etc/passwd"'),  # harmless inside quotes
    ],
)
def test_accepted_values_are_stored_canonical(name, rtype, value, stored_name, stored_value):
    data = record(ORIGIN, FORWARD, name=name, rtype=rtype, value=value)
    assert (data.name, data.value) == (stored_name, stored_value)


def test_long_txt_is_split_into_255_octet_strings():
    data = record(ORIGIN, FORWARD, name="dkim", rtype="TXT", value="k" * 600)
    assert data.value == " ".join(f'"{"k" * n}"' for n in (255, 255, 90))


def test_ptr_in_a_reverse_zone():
    data = record(REVERSE_ORIGIN, REVERSE, name="10", rtype="PTR", value="WWW.example.test.")
    assert (data.name, data.value, data.target) == ("10", "www.example.test.", "www.example.test.")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("10.20", "www.example.test.", "full reverse name"),
        ("300", "www.example.test.", "not a reverse name"),
        ("10", "192.0.2.10.", "IP address"),
        ("10", "_x.example.test.", "label '_x'"),
    ],
)
def test_bad_ptr_records(name, value, message):
    with pytest.raises(ValidationError, match=message):
        record(REVERSE_ORIGIN, REVERSE, name=name, rtype="PTR", value=value)


def test_forward_types_are_refused_in_reverse_zones():
    with pytest.raises(ValidationError, match="A records belong in forward zones"):
        record(REVERSE_ORIGIN, REVERSE, name="10", rtype="A", value="192.0.2.10")


# (name, type, value, ttl, what the message says): each refused by create_record, nothing stored.
HOSTILE = [
    # Injection: a newline would start a new zone-file line ($INCLUDE reads any file named-checkzone can).
    ("www", "A", "192.0.2.1\n$INCLUDE /etc/passwd", None, "control characters"),
    ("www\n$INCLUDE /etc/passwd", "A", "192.0.2.1", None, "control characters"),
    ("www", "TXT", "hello\n$INCLUDE /etc/passwd", None, "control characters"),
    ("www", "TXT", "hello\r@ NS evil.example.", None, "control characters"),
    ("www", "MX", "10 mail.example.test.\r\n@ NS evil.", None, "control characters"),
    ("www", "TXT", '"a" ; $INCLUDE /etc/passwd', None, "';' is allowed only inside double quotes"),
    ("www", "A", "192.0.2.1 ; hidden", None, "';' is allowed only inside double quotes"),
    ("www", "A", "( 192.0.2.1 )", None, "'\\(' is allowed only inside double quotes"),
    ("w\x00w", "A", "192.0.2.1", None, "control characters"),
    ("www", "A", "192.0.2.1\x7f", None, "control characters"),
    ("www", "CAA", '0 issue "a\tb"', None, "control characters"),
    ("www", "A", "192.0.2.1\u2028", None, "control characters"),
    ("$INCLUDE", "A", "192.0.2.1", None, "label"),
    # Oversize.
    ("a" * 64, "A", "192.0.2.1", None, "label longer than 63 octets"),
    (".".join(["a" * 63] * 4), "A", "192.0.2.1", None, "longer than 255 octets"),
    ("www", "CNAME", ".".join(["a" * 63] * 4) + ".", None, "is > 255 octets long"),
    ("www", "TXT", "x" * 5000, None, "at most 4096 octets"),
    ("www", "TXT", '"' + "x" * 256 + '"', None, "at most 255 octets"),
    ("www", "TXT", "x" * 9000, None, "at most 8192 characters"),
    # Types.
    ("www", "HINFO", "a b", None, "not supported"),
    ("www", "SOA", "a. b. 1 2 3 4 5", None, "not supported"),
    ("www", "PTR", "host.example.test.", None, "PTR records belong in reverse zones"),
    ("www", "", "192.0.2.1", None, "is required"),
    ("www", "A", "2001:db8::1", None, "IPv6 address; use an AAAA record"),
    ("www", "AAAA", "192.0.2.1", None, "IPv4 address; use an A record"),
    ("www", "A", "192.0.2.256", None, "not a valid A value"),
    ("www", "A", "", None, "is required"),
    ("www", "MX", "mail.example.test.", None, "not a valid MX value"),
    # Names.
    ("www.other.test.", "A", "192.0.2.1", None, "outside the zone"),
    ("www.example.test", "A", "192.0.2.1", None, "would become www.example.test.example.test."),
    ("a.*.b", "A", "192.0.2.1", None, "'\\*' is allowed only as the whole first label"),
    ("*x", "A", "192.0.2.1", None, "label"),
    ("_foo", "A", "192.0.2.1", None, "label '_foo'"),
    ("-foo", "A", "192.0.2.1", None, "not start or end with a hyphen"),
    ("w w", "A", "192.0.2.1", None, "label"),
    ("bücher", "A", "192.0.2.1", None, "xn--"),
    ("sip", "SRV", "0 0 5060 sip.example.test.", None, "_service._protocol"),
    ("*", "NS", "ns.example.org.", None, "'\\*' is allowed only"),
    # A label ending in an escaped newline ("$" would have let it through).
    ("www\\010", "A", "192.0.2.1", None, "label"),
    # Targets.
    ("@", "MX", "10 192.0.2.1", None, "looks like an IP address"),
    ("@", "MX", "10 192.0.2.1.", None, "looks like an IP address"),
    ("sub", "NS", "192.0.2.1.", None, "looks like an IP address"),
    ("@", "MX", "10 mail_x.example.org.", None, "label 'mail_x'"),
    ("_sip._tcp", "SRV", "0 0 5060 _sip.example.org.", None, "label '_sip'"),
    ("www", "CNAME", "*.example.org.", None, "'\\*' is allowed only"),
    ("www", "CNAME", "host\\010.example.org.", None, "label"),
    ("www", "CNAME", ".", None, "not the root"),
    ("@", "MX", "10 mail.example.test.example.test.", None, "repeats the zone name"),
    # Rules between records (the zone has ns1 A 192.0.2.1 and @ NS ns1).
    ("@", "CNAME", "other.example.org.", None, "cannot be at the zone's apex"),
    ("ns1", "CNAME", "host.example.org.", None, "cannot have a CNAME and other records"),
    ("@", "MX", "10 nothere", None, "has no A or AAAA record"),
    ("@", "NS", "ns2", None, "has no A or AAAA record"),
    # TTLs.
    ("www", "A", "192.0.2.1", -1, "between 0 and 2147483647"),
    ("www", "A", "192.0.2.1", 2**31, "between 0 and 2147483647"),
    ("www", "A", "192.0.2.1", "1h", "whole number of seconds"),
    ("www", "A", "192.0.2.1", True, "whole number of seconds"),
    ("www", "A", "192.0.2.1", 1.5, "whole number of seconds"),
]


@pytest.mark.parametrize(("name", "rtype", "value", "ttl", "message"), HOSTILE)
def test_hostile_and_broken_records_are_refused_and_nothing_is_stored(zone, name, rtype, value, ttl, message):
    before = zone_state()
    with pytest.raises(ValidationError, match=message), db.session_scope() as session:
        records.create_record(session, zone, name=name, rtype=rtype, value=value, ttl=ttl, who="mallory")
    assert zone_state() == before


def test_hostile_comment_is_refused(zone):
    before = zone_state()
    with pytest.raises(ValidationError, match="comment"), db.session_scope() as session:
        records.create_record(
            session, zone, name="www", rtype="A", value="192.0.2.9", comment="ok\n$INCLUDE /etc/passwd", who="m"
        )
    assert zone_state() == before


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("bad\nzone.test", {}, "control characters"),
        (".", {}, "root zone"),
        ("in-addr.arpa", {}, "create a zone below it"),
        ("ex ample.test", {}, "label"),
        ("example2.test", {"mname": "192.0.2.1"}, "IP address"),
        ("example2.test", {"rname": "not a mailbox"}, "mailbox"),
        ("example2.test", {"refresh": -5}, "between 0 and"),
        ("example2.test", {"default_ttl": "soon"}, "whole number"),
        ("example2.test", {"colour": "blue"}, "not a zone setting"),
        ("example2.test", {"nameservers": ["ns9"]}, "inside the zone: give its IPv4 or IPv6 address"),
        ("example2.test", {"glue": {"ns.example.org.": ["192.0.2.1"]}, "nameservers": ["ns.example.org."]}, "outside"),
        ("example2.test", {"glue": {"ns1": ["not-an-ip"]}}, "not an IP address"),
        ("2.0.192.in-addr.arpa", {"auto_ptr": True}, "forward zones"),
    ],
)
def test_bad_zones_are_refused(embedded, name, settings, message):
    arguments = {"mname": "ns1", "rname": "hostmaster", "glue": {"ns1": ["192.0.2.1"]}} | settings
    with pytest.raises(ValidationError, match=message), db.session_scope() as session:
        zones.create_zone(session, name, who="mallory", **arguments)
    with db.session_scope() as session:
        assert zones.list_zones(session) == []
