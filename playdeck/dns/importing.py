"""Bulk import of a zone file: a preview of what would change, then the same change applied atomically.

``preview_import`` parses the text with dnspython's zone-file reader ($ORIGIN and $TTL allowed; $INCLUDE,
$GENERATE and every other directive refused), holds every record to the rules a typed record meets,
checks the zone as it would be, and compares it with the stored zone: records to add, records to delete
(with ``delete_missing``, the default: the file is the whole zone), RRsets whose TTL changes, and how many
stay. The SOA record is not imported (the zone's SOA settings are edited separately); its serial is
reported, and adopted as the zone's numbering base when it is ahead (a zone moved from another server).

``apply_import`` does it again under the zone's lock and writes it in one transaction, but only if the
zone's ``change_seq`` is still the preview's ``base_change_seq`` — otherwise someone changed the zone
since the preview was shown, and ``StaleVersion`` says so. History rows say ``import``.

Out-of-zone names are refused, not skipped (``dns.zone.from_text`` would drop them without a word, so
the reader is run with the zone's origin for relative names but no filter on absolute ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import dns.zonefile
from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck.dns import rules
from playdeck.dns.changes import ChangeSet, apply, lock_zone, stored_ttls, verify
from playdeck.dns.errors import StaleVersion
from playdeck.dns.models import Record, Zone
from playdeck.dns.serials import serial_gt
from playdeck.dns.validation import APEX, RecordData, parse_actor, record_from_rdata, zonefile_text
from playdeck.dns.zones import get_zone
from playdeck.errors import ValidationError

ALLOWED_DIRECTIVES = {"$ORIGIN", "$TTL"}


@dataclass(frozen=True)
class TtlChange:
    name: str
    rtype: str
    old: int
    new: int


@dataclass
class ImportPreview:
    zone: str
    # The zone's change_seq the preview was computed against: pass it to apply_import.
    base_change_seq: int
    adds: list[RecordData] = field(default_factory=list)
    # (id, name, type, ttl, value) of stored records the import deletes.
    deletes: list[dict[str, Any]] = field(default_factory=list)
    ttl_changes: list[TtlChange] = field(default_factory=list)
    unchanged: int = 0
    # The SOA serial in the file, if it had an SOA record.
    file_serial: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "base_change_seq": self.base_change_seq,
            "adds": [{"name": r.name, "type": r.rtype, "ttl": r.ttl, "value": r.value} for r in self.adds],
            "deletes": self.deletes,
            "ttl_changes": [{"name": c.name, "type": c.rtype, "old": c.old, "new": c.new} for c in self.ttl_changes],
            "unchanged": self.unchanged,
            "file_serial": self.file_serial,
        }


def _read_rrsets(text: str, origin: dns.name.Name) -> list:
    manager = dns.zonefile.RRSetsReaderManager(origin, False, dns.rdataclass.IN)
    try:
        with manager.writer(True) as txn:
            reader = dns.zonefile.Reader(
                dns.tokenizer.Tokenizer(text, "<zone file>"),
                dns.rdataclass.IN,
                txn,
                allow_directives=ALLOWED_DIRECTIVES,
            )
            # Relative names are relative to the zone; absolute names outside it must reach us to be refused.
            reader.zone_origin = dns.name.root
            reader.read()
    except (dns.exception.DNSException, ValueError, KeyError) as exc:
        raise ValidationError("zonefile", f"is not a valid zone file: {exc}") from None
    return manager.rrsets


def _file_records(text: str, zone: Zone, delete_missing: bool) -> tuple[dict, int | None]:
    """{(name, type): (ttl, {value: RecordData})} of the file, and its SOA serial."""
    origin = dns.name.from_text(zone.name)
    found: dict[tuple[str, str], tuple[int, dict[str, RecordData]]] = {}
    serial = None
    for rrset in _read_rrsets(zonefile_text(text), origin):
        if not rrset.name.is_subdomain(origin):
            raise ValidationError("zonefile", f"{rrset.name} is outside the zone {origin}")
        if rrset.rdtype == dns.rdatatype.SOA:
            if rrset.name != origin:
                raise ValidationError("zonefile", f"an SOA record belongs at the apex, not at {rrset.name}")
            serial = rrset[0].serial
            continue
        try:
            records = [record_from_rdata(origin, zone.kind, rrset.name, rdata, rrset.ttl) for rdata in rrset]
        except ValidationError as exc:
            shown = f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"
            raise ValidationError("zonefile", f"{shown}: {exc.message}") from None
        first = records[0]
        found[(first.name, first.rtype)] = (rrset.ttl, {data.value: data for data in records})
    if delete_missing and (serial is None or (APEX, "NS") not in found):
        # dnspython's check_origin: a whole zone has its SOA and NS records at the apex.
        raise ValidationError("zonefile", f"a whole zone file for {origin} has SOA and NS records at its apex")
    return found, serial


def _plan(session: Session, zone: Zone, text: str, delete_missing: bool) -> tuple[ImportPreview, ChangeSet, Any]:
    wanted, serial = _file_records(text, zone, delete_missing)
    stored_rows = list(session.scalars(select(Record).where(Record.zone_id == zone.id)))
    ttls = stored_ttls(session, zone, {(row.name, row.rtype) for row in stored_rows})
    preview = ImportPreview(zone=zone.name, base_change_seq=zone.change_seq, file_serial=serial)
    changes = ChangeSet()
    for row in stored_rows:
        key = (row.name, row.rtype)
        if key in wanted and row.value in wanted[key][1]:
            preview.unchanged += 1
        elif delete_missing:
            changes.deletes.append(row)
            preview.deletes.append(
                {"id": row.id, "name": row.name, "type": row.rtype, "ttl": ttls[key], "value": row.value}
            )
    stored_values = {(row.name, row.rtype, row.value) for row in stored_rows}
    for key, (ttl, values) in sorted(wanted.items()):
        if key in ttls and ttls[key] != ttl:
            changes.ttls[key] = ttl
            preview.ttl_changes.append(TtlChange(key[0], key[1], ttls[key], ttl))
        changes.adds += [data for value, data in sorted(values.items()) if (*key, value) not in stored_values]
    preview.adds = changes.adds
    origin = dns.name.from_text(zone.name)
    contents = rules.MemoryZone(origin, (RecordData(r.name, r.rtype, r.value, r.target) for r in stored_rows))
    return preview, changes, contents


def preview_import(session: Session, zone_name: object, text: Any, *, delete_missing: bool = True) -> ImportPreview:
    """What importing ``text`` would change; a ValidationError (nothing changes) when it would be refused."""
    zone = get_zone(session, zone_name)
    preview, changes, contents = _plan(session, zone, text, delete_missing)
    verify(session, zone, changes, contents)
    return preview


def apply_import(
    session: Session,
    zone_name: object,
    text: Any,
    *,
    expected_change_seq: int,
    who: str,
    delete_missing: bool = True,
) -> ImportPreview:
    """Import ``text`` as previewed at ``expected_change_seq``; returns what was changed."""
    who = parse_actor(who)
    zone = lock_zone(session, zone_name)
    if zone.change_seq != expected_change_seq:
        raise StaleVersion(f"zone {zone.name}", expected_change_seq, zone.change_seq)
    preview, changes, contents = _plan(session, zone, text, delete_missing)
    apply(session, zone, changes, who=who, action="import", contents=contents)
    # Only a change makes the zone dirty, and only a regeneration of a dirty zone moves past this serial.
    if changes and preview.file_serial is not None and serial_gt(preview.file_serial, zone.serial):
        zone.serial = preview.file_serial
    return preview
