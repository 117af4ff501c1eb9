"""playdeck.dns.zonefile: rendering refuses hostile text, both validations, the atomic install."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.dns_render import build_export, soa_for
from playdeck.dns import zonefile
from playdeck.dns.zonefile import ZoneFileError

ZONE = "example.test."
SERIAL = 2026112701
SOA = soa_for(ZONE)
# The least a zone needs: NS at the apex, with its address (named-checkzone -i full wants it).
BASE_RECORDS = [("@", "NS", 3600, f"ns1.{ZONE}"), ("ns1", "A", 3600, "192.0.2.1")]
RECORDS = [
    ("@", "MX", 3600, f"10 mail.{ZONE}"),
    ("@", "TXT", 3600, '"v=spf1 mx -all"'),
    ("_sip._tcp", "SRV", 300, f"0 5 5060 sip.{ZONE}"),
    ("mail", "A", 300, "192.0.2.25"),
    ("sip", "AAAA", 300, "2001:db8::5"),
    ("www", "A", 300, "192.0.2.10"),
    ("www", "A", 300, "192.0.2.11"),
    ("www-alias", "CNAME", 300, f"www.{ZONE}"),
    ("@", "CAA", 3600, '0 issue "letsencrypt.org"'),
    ("*.apps", "A", 60, "192.0.2.80"),
]


def make_export(
    records: list[tuple[str, str, int | None, str]] = RECORDS, serial: int = SERIAL, zone: str = ZONE
) -> dict[str, Any]:
    """An export as playdeck.dns.export writes it: the base records plus ``records``, sorted."""
    rows = sorted(BASE_RECORDS + list(records), key=lambda row: (row[0], row[1], row[3]))
    return {
        "zone": zone,
        "serial": serial,
        "default_ttl": 3600,
        "soa": SOA,
        "records": [{"name": name, "type": rtype, "ttl": ttl, "value": value} for name, rtype, ttl, value in rows],
    }


def with_record(name: Any = "www", rtype: Any = "A", value: Any = "192.0.2.10", ttl: Any = 300) -> dict[str, Any]:
    export = make_export(RECORDS[:1])
    export["records"].append({"name": name, "type": rtype, "ttl": ttl, "value": value})
    return export


# --- render -------------------------------------------------------------------------------------------


def test_render_writes_origin_ttl_soa_then_the_records_in_order() -> None:
    text = zonefile.render(make_export([("www", "A", 300, "192.0.2.10"), ("www", "TXT", None, '"a; b" "c"')]))

    lines = text.splitlines()
    assert lines[0].startswith(f"; {ZONE} serial {SERIAL}")
    assert lines[1:] == [
        f"$ORIGIN {ZONE}",
        "$TTL 3600",
        f"@ 3600 IN SOA ns1.{ZONE} hostmaster.{ZONE} {SERIAL} 3600 600 1209600 300",
        f"@ 3600 IN NS ns1.{ZONE}",
        "ns1 3600 IN A 192.0.2.1",
        "www 300 IN A 192.0.2.10",
        'www 3600 IN TXT "a; b" "c"',  # no TTL: the zone's default; ';' inside quotes is data
    ]
    assert text.endswith("\n")
    assert zonefile.serial_of(text) == SERIAL


def test_rendered_zone_passes_dnspython_and_named_checkzone(tmp_path: Path) -> None:
    text = zonefile.render(make_export())
    path = tmp_path / "example.test.zone"
    path.write_text(text)

    zonefile.check(text, ZONE)
    zonefile.validate_file(path, text, ZONE)


HOSTILE_VALUES = {
    "newline then a directive": "192.0.2.1\n$INCLUDE /etc/passwd",
    "carriage return": "192.0.2.1\r",
    "tab": "192.0.2.1\t",
    "NUL": "192.0.2.1\x00",
    "DEL": "192.0.2.1\x7f",
    "starts with $": "$INCLUDE /etc/passwd",
    "; outside quotes": "192.0.2.1 ; comment",
    "open parenthesis": "10 ( mail.example.test.",
    "close parenthesis": "10 mail.example.test. )",
    "unbalanced quote": '"v=spf1 -all',
    "quote inside a token": 'a"b"',
    "dangling backslash": '"abc" \\',
    "empty": "",
    "blank": " ",
    "leading blank": " 192.0.2.1",
    "two blanks": "10  mail.example.test.",
    "non-ASCII": '"caf\u00e9"',
    "line separator": '"a\u2028b"',
    "not a string": 3232235777,
}


@pytest.mark.parametrize("value", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
def test_render_refuses_hostile_values(value: Any) -> None:
    with pytest.raises(ZoneFileError, match=r"^record \d+ \('www' 'TXT'\): value "):
        zonefile.render(with_record(rtype="TXT", value=value))


HOSTILE_NAMES = {
    "newline then a directive": "www\n$INCLUDE /etc/passwd",
    "starts with $": "$ORIGIN",
    "blank": "a b",
    "semicolon": "a;b",
    "parenthesis": "a(b",
    "quote": 'a"b',
    "backslash escape": "a\\032b",
    "empty": "",
    "empty label": "a..b",
    "label of 64": "a" * 64,
    "too long": ".".join(["a" * 63] * 4),
    "outside the zone": "www.other.test.",
    "the parent": "test.",
    "non-ASCII": "caf\u00e9",
    "not a string": None,
}


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_render_refuses_hostile_names(name: Any) -> None:
    with pytest.raises(ZoneFileError, match=r"^record \d+ .*: name "):
        zonefile.render(with_record(name=name))


def test_render_accepts_names_inside_the_zone_however_written() -> None:
    for name in ("@", "www", "WWW", "a.b.c", "_dmarc", "*.wild", "www.example.test.", "EXAMPLE.test."):
        zonefile.render(with_record(name=name))


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("type", "A\n", "type"),
        ("type", "a", "type"),
        ("type", "SOA", "SOA comes from 'soa'"),
        ("type", "ANY", "cannot be a record"),
        ("type", "BOGUS", "unknown"),
        ("ttl", -1, "ttl"),
        ("ttl", 2**31, "ttl"),
        ("ttl", "300", "ttl"),
        ("ttl", True, "ttl"),
    ],
)
def test_render_refuses_bad_types_and_ttls(field: str, bad: Any, message: str) -> None:
    with pytest.raises(ZoneFileError, match=message):
        zonefile.render(with_record(**{"rtype" if field == "type" else field: bad}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"zone": "example.test"}, "zone 'example.test' is not a plain absolute name"),
        ({"zone": "example.test.\n$INCLUDE /etc/passwd"}, "zone"),
        ({"serial": 2**32}, "serial"),
        ({"serial": "1"}, "serial"),
        ({"default_ttl": -5}, "default_ttl"),
        ({"soa": SOA | {"mname": "ns1.example.test"}}, "soa.mname"),
        ({"soa": SOA | {"rname": "host master.example.test.\n"}}, "soa.rname"),
        ({"soa": SOA | {"refresh": -1}}, "refresh"),
        ({"soa": {"mname": f"ns1.{ZONE}"}}, "missing or malformed field 'rname'"),
        ({"records": [{"name": "www", "type": "A"}]}, "record 0 .*missing or malformed field 'value'"),
    ],
)
def test_render_refuses_a_malformed_export(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ZoneFileError, match=message):
        zonefile.render(make_export() | change)


def test_soa_mailbox_with_an_escaped_dot_is_written_by_dnspython() -> None:
    text = zonefile.render(make_export() | {"soa": SOA | {"rname": f"john\\.doe.{ZONE}"}})

    assert f"IN SOA ns1.{ZONE} john\\.doe.{ZONE} {SERIAL} " in text
    zonefile.check(text, ZONE)


# --- check (dnspython) --------------------------------------------------------------------------------


def edited(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


VALID = zonefile.render(make_export())
BAD_TEXTS = {
    "an $INCLUDE": (edited(VALID, "$TTL 3600\n", "$TTL 3600\n$INCLUDE /etc/passwd\n"), "not a record"),
    "a $GENERATE": (VALID + "$GENERATE 1-9 h$ A 192.0.2.$\n", "not a record"),
    "a second $ORIGIN": (VALID + f"$ORIGIN sub.{ZONE}\n", r"\$ORIGIN out of place"),
    "a $TTL later": (VALID + "$TTL 5\n", r"\$TTL out of place"),
    "another origin": (edited(VALID, f"$ORIGIN {ZONE}", "$ORIGIN other.test."), "is not the zone"),
    "a record before the header": (f"www 300 IN A 192.0.2.1\n{VALID}", "before the"),
    "parentheses": (VALID + "www 300 IN MX ( 10\n mail )\n", "not a record"),
    "a trailing comment": (VALID + "www 300 IN A 192.0.2.9 ; x\n", "not a record"),
    "no final newline": (VALID.rstrip("\n"), "newline"),
    "bad data": (VALID + "www 300 IN A 192.0.2.300\n", r"line \d+: A data '192.0.2.300'"),
    "bad MX": (VALID + "www 300 IN MX mail.example.test.\n", "MX data"),
    "an owner outside": (VALID + "www.other.test. 300 IN A 192.0.2.9\n", "outside the zone"),
    "a TTL too large": (VALID + "www 2147483648 IN A 192.0.2.9\n", "above"),
    "an RRset with two TTLs": (VALID + "www 301 IN A 192.0.2.9\n", "different TTLs"),
    "CNAME and other data": (VALID + "www 300 IN CNAME mail.example.test.\n", "CNAME and other data"),
    "CNAME at the apex": (VALID + "@ 300 IN CNAME www.example.test.\n", "CNAME and other data"),
    "an unknown type": (VALID + "www 300 IN BOGUS 1\n", "unknown"),
    "a meta type": (VALID + "www 300 IN ANY 1\n", "not a record type"),
    "a second SOA": (VALID + f"@ 3600 IN SOA ns1.{ZONE} h.{ZONE} 1 1 1 1 1\n", "second SOA"),
    "an SOA below the apex": (VALID + f"sub 3600 IN SOA ns1.{ZONE} h.{ZONE} 1 1 1 1 1\n", "not at the apex"),
    "no SOA": (edited(VALID, f"@ 3600 IN SOA ns1.{ZONE} hostmaster.{ZONE} ", "; "), "no SOA"),
    "no NS at the apex": (edited(VALID, f"@ 3600 IN NS ns1.{ZONE}\n", ""), "no NS"),
    "a control character": (VALID + 'www 300 IN TXT "a\x07"\n', "not a record"),
}


@pytest.mark.parametrize(("text", "message"), BAD_TEXTS.values(), ids=BAD_TEXTS.keys())
def test_check_refuses(text: str, message: str) -> None:
    with pytest.raises(ZoneFileError, match=message):
        zonefile.check(text, ZONE)


def test_check_parses_only_lines_the_installed_version_did_not_have() -> None:
    # A line is trusted only because the installed version (which passed check) had it: shown here
    # with a "previous" text that never passed, so the line really is skipped.
    bad_line = "www 300 IN A 192.0.2.300\n"
    previous = VALID + bad_line

    zonefile.check(VALID + bad_line, ZONE, previous=previous)
    with pytest.raises(ZoneFileError, match="A data"):
        zonefile.check(VALID + bad_line, ZONE, previous=VALID)
    # The zone-wide rules still see every line.
    conflict = "mail 300 IN CNAME www.example.test.\n"
    with pytest.raises(ZoneFileError, match="CNAME and other data"):
        zonefile.check(VALID + conflict, ZONE, previous=VALID + conflict)


def dnspython_accepts(rtype: str, value: str, origin: str = ZONE) -> bool:
    try:
        dns.rdata.from_text("IN", rtype, value, origin=dns.name.from_text(origin))
    except (dns.exception.DNSException, ValueError):
        return False
    return True


LABEL63 = "a" * 63
# (type, value): edge cases of the shapes data_accepted decides without dnspython's tokenizer.
FAST_CASES = [
    ("A", "192.0.2.1"),
    ("A", "0.0.0.0"),
    ("A", "255.255.255.255"),
    ("A", "192.0.2.256"),
    ("A", "192.0.2.01"),
    ("A", "192.0.2"),
    ("A", "192.0.2.1.5"),
    ("A", "192..2.1"),
    ("A", "1.2.3.4."),
    ("A", "..........."),
    ("AAAA", "2001:db8::1"),
    ("AAAA", "::"),
    ("AAAA", "::ffff:192.0.2.1"),
    ("AAAA", "2001:DB8::A"),
    ("AAAA", "2001:db8::1::2"),
    ("AAAA", "1:2:3:4:5:6:7:8:9"),
    ("AAAA", "12345::"),
    ("AAAA", ":1"),
    ("AAAA", "::ffff:192.0.2.256"),
    ("AAAA", "2001:db8::1%eth0"),
    ("CNAME", "www.example.test."),
    ("CNAME", "www"),
    ("CNAME", "@"),
    ("CNAME", "*.apps.example.test."),
    ("CNAME", f"{LABEL63}.example.test."),
    ("CNAME", f"{LABEL63}a.example.test."),
    ("CNAME", "a..example.test."),
    ("NS", "ns1.example.org."),
    ("PTR", "host.example.test."),
    ("DNAME", "other.test."),
    ("MX", "10 mail.example.test."),
    ("MX", "0 ."),
    ("MX", "65535 mail.example.test."),
    ("MX", "65536 mail.example.test."),
    ("MX", "00010 mail.example.test."),
    ("MX", "99999 mail.example.test."),
    ("MX", "mail.example.test."),
    ("MX", "10 192.0.2.1"),
    ("SRV", "0 5 5060 sip.example.test."),
    ("SRV", "65535 65535 65535 sip.example.test."),
    ("SRV", "1 2 65536 sip.example.test."),
    ("SRV", "1 2 sip.example.test."),
    ("TXT", '"v=spf1 -all"'),
    ("TXT", '""'),
    ("TXT", '"a; b (c)" "d"'),
    ("TXT", f'"{"x" * 255}"'),
    ("TXT", f'"{"x" * 256}"'),
    ("TXT", f'"{"x" * 255}" "{"y" * 255}"'),
    ("TXT", '"a\\"b"'),
]
# Names at the length limit: 4 labels of 63 make 4 * 64 + 1 = 257 octets; trimmed to 255 and 256.
LONG_NAMES = [".".join([LABEL63] * 3 + ["a" * n]) for n in (58, 59, 60, 61, 62)]


@pytest.mark.parametrize(("rtype", "value"), FAST_CASES, ids=[f"{t} {v[:40]}" for t, v in FAST_CASES])
def test_fast_data_verdicts_are_dnspythons(rtype: str, value: str) -> None:
    origin_wire = len(dns.name.from_text(ZONE).to_wire())
    # Accepted without dnspython only if dnspython accepts; otherwise check asks dnspython.
    if zonefile.data_accepted(rtype, value, origin_wire):
        assert dnspython_accepts(rtype, value)
    if dnspython_accepts(rtype, value):
        zonefile.check(VALID + f"fast 300 IN {rtype} {value}\n", ZONE)
    else:
        with pytest.raises(ZoneFileError, match=f"{rtype} data"):
            zonefile.check(VALID + f"fast 300 IN {rtype} {value}\n", ZONE)


def test_fast_data_verdicts_cover_what_render_writes() -> None:
    origin_wire = len(dns.name.from_text(ZONE).to_wire())
    for name, rtype, _, value in BASE_RECORDS + RECORDS[:-1]:
        assert zonefile.data_accepted(rtype, value, origin_wire) is (rtype != "CAA"), (name, rtype, value)


@pytest.mark.parametrize("name", [*LONG_NAMES, *(f"{n}." for n in LONG_NAMES), "@", "a", "a.", "*", "_x.y"])
@pytest.mark.parametrize("origin", ["test.", ZONE, f"{LABEL63}.test."])
def test_plain_name_length_is_dnspythons(name: str, origin: str) -> None:
    origin_name = dns.name.from_text(origin)
    try:
        dns.name.from_text(name, origin_name)
        fits = True
    except dns.name.NameTooLong:
        fits = False
    assert zonefile.plain_name_fits(name, len(origin_name.to_wire())) is fits


PLAIN_NAMES = st.lists(st.text("ab-_*", min_size=1, max_size=64), min_size=1, max_size=5).map(".".join)


@settings(max_examples=300, deadline=None)
@given(
    rtype=st.sampled_from(["A", "AAAA", "CNAME", "MX", "SRV", "TXT"]),
    value=st.one_of(
        st.text("0123456789.", max_size=20),
        st.text("0123456789abcdefABCDEF:.%", max_size=45),
        st.tuples(st.integers(0, 99999), PLAIN_NAMES, st.booleans()).map(
            lambda t: f"{t[0]} {t[1]}{'.' if t[2] else ''}"
        ),
        st.tuples(st.integers(0, 70000), st.integers(0, 70000), PLAIN_NAMES).map(lambda t: f"{t[0]} {t[1]} 1 {t[2]}."),
        PLAIN_NAMES,
        st.lists(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=260), min_size=1, max_size=3).map(
            lambda strings: " ".join(f'"{string}"' for string in strings)
        ),
    ),
)
def test_fast_data_verdicts_never_accept_what_dnspython_refuses(rtype: str, value: str) -> None:
    if zonefile.data_accepted(rtype, value, len(dns.name.from_text(ZONE).to_wire())):
        assert dnspython_accepts(rtype, value), (rtype, value)


def test_check_refuses_an_owner_name_too_long() -> None:
    owner = LONG_NAMES[-1]  # with the zone's 14 octets, far above 255

    with pytest.raises(ZoneFileError, match="longer than 255 octets"):
        zonefile.check(VALID + f"{owner} 300 IN A 192.0.2.9\n", ZONE)
    with pytest.raises(dns.name.NameTooLong):
        dns.name.from_text(owner, dns.name.from_text(ZONE))


def test_named_checkzone_message_names_the_problem(tmp_path: Path) -> None:
    # An MX to a name of the zone without an address: only BIND checks that (-i full / -M fail).
    text = zonefile.render(make_export([("@", "MX", 3600, f"10 nowhere.{ZONE}")]))
    path = tmp_path / "zone"
    path.write_text(text)

    zonefile.check(text, ZONE)
    with pytest.raises(ZoneFileError) as caught:
        zonefile.validate_file(path, text, ZONE)
    assert str(caught.value).startswith("named-checkzone rejected the zone (exit 1):\n")
    assert "nowhere.example.test" in str(caught.value)


def test_both_checkers_report(tmp_path: Path) -> None:
    text = zonefile.render(make_export([("www", "A", 300, "192.0.2.10"), ("www", "CNAME", 300, f"mail.{ZONE}")]))
    path = tmp_path / "zone"
    path.write_text(text)

    with pytest.raises(ZoneFileError) as caught:
        zonefile.validate_file(path, text, ZONE)
    message = str(caught.value)
    assert message.startswith("named-checkzone rejected the zone")
    assert "CNAME and other data" in message.split("dnspython rejected the zone:")[0]
    assert "dnspython rejected the zone: line 8: www.example.test. has a CNAME and other data (A)" in message


def test_a_missing_named_checkzone_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ZoneFileError, match="cannot run /nonexistent/named-checkzone"):
        zonefile.validate_file(tmp_path / "zone", VALID, ZONE, program="/nonexistent/named-checkzone")


# --- serials ------------------------------------------------------------------------------------------


def test_serial_must_advance_in_rfc1982_arithmetic() -> None:
    installed = zonefile.render(make_export(serial=100))

    zonefile.check_serial_advances(101, installed)
    zonefile.check_serial_advances(5, zonefile.render(make_export(serial=2**32 - 1)))  # wrapped: newer
    zonefile.check_serial_advances(1, None)
    with pytest.raises(ZoneFileError, match="serial 99 is not newer than the installed serial 100"):
        zonefile.check_serial_advances(99, installed)
    with pytest.raises(ZoneFileError, match="the serial did not"):
        zonefile.check_serial_advances(100, installed)


# --- install ------------------------------------------------------------------------------------------


def zone_dir_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_install_writes_atomically_and_keeps_the_previous_version(tmp_path: Path) -> None:
    target = tmp_path / "example.test.zone"
    first = zonefile.render(make_export(serial=1))
    second = zonefile.render(make_export(serial=2))

    assert zonefile.install(target, first, ZONE) is True
    assert target.read_text() == first
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert zone_dir_files(tmp_path) == ["example.test.zone"]

    os.chmod(target, 0o640)  # an operator's choice survives the next install
    assert zonefile.install(target, second, ZONE) is True
    assert target.read_text() == second
    assert (tmp_path / "example.test.zone.prev").read_text() == first
    assert stat.S_IMODE(target.stat().st_mode) == 0o640

    mtime = target.stat().st_mtime_ns
    assert zonefile.install(target, second, ZONE) is False  # the same text again: nothing happens
    assert target.stat().st_mtime_ns == mtime
    assert zone_dir_files(tmp_path) == ["example.test.zone", "example.test.zone.prev"]


def test_failed_install_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "example.test.zone"
    good = zonefile.render(make_export(serial=1))
    zonefile.install(target, good, ZONE)
    bad = zonefile.render(make_export([("www", "A", 300, "192.0.2.10"), ("www", "CNAME", 300, f"mail.{ZONE}")], 2))

    with pytest.raises(ZoneFileError, match="CNAME and other data"):
        zonefile.install(target, bad, ZONE)
    with pytest.raises(ZoneFileError, match="not newer"):
        zonefile.install(target, zonefile.render(make_export(serial=0)), ZONE)

    assert target.read_text() == good
    assert zone_dir_files(tmp_path) == ["example.test.zone"]  # no temporary file, no .prev


def test_dry_run_validates_and_installs_nothing(tmp_path: Path) -> None:
    target = tmp_path / "example.test.zone"

    assert zonefile.install(target, VALID, ZONE, dry_run=True) is True
    assert zone_dir_files(tmp_path) == []


# --- size ---------------------------------------------------------------------------------------------


def test_a_large_zone_renders_and_checks(tmp_path: Path) -> None:
    """Sanity at scale, not a timing assertion (this machine's load varies): python -m bench.dns_render."""
    export = build_export(20_000)
    started = time.perf_counter()
    text = zonefile.render(export)
    rendered = time.perf_counter()
    zonefile.check(text, export["zone"])
    checked = time.perf_counter()
    zonefile.check(text, export["zone"], previous=text)
    rechecked = time.perf_counter()

    assert text.count("\n") == 20_000 + 4
    print(
        f"20,000 records: render {rendered - started:.2f} s, check {checked - rendered:.2f} s, "
        f"check against the installed version {rechecked - checked:.2f} s"
    )
