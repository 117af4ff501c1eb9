"""Zones: create, read, list, change their SOA settings, delete.

A new zone is written with its apex NS records (and the A/AAAA glue of name servers inside the zone),
so that every zone in the database is one BIND would load. Settings edits carry the ``version`` the
editor read (``StaleVersion`` otherwise). Deleting a zone hides it at once and leaves it dirty; the
regeneration removes it from BIND and then purges it (``playdeck.dns.regeneration``). Every change is
in the caller's transaction, with its history row, and bumps ``change_seq`` when BIND must hear of it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import dns.name
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playdeck import audit
from playdeck.dns import history
from playdeck.dns.changes import ChangeSet, apply, lock_zone, zone_key
from playdeck.dns.errors import StaleVersion
from playdeck.dns.models import Zone
from playdeck.dns.serials import SERIAL_MODULO
from playdeck.dns.validation import (
    FORWARD,
    hostname,
    mailbox,
    parse_actor,
    parse_ttl,
    record,
    zone_kind,
    zone_origin,
)
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.models import utcnow

# What a user sets on a zone; all but mname and rname have these defaults (RIPE-203 style values).
DEFAULT_SETTINGS: dict[str, Any] = {
    "refresh": 3600,
    "retry": 600,
    "expire": 1209600,
    "minimum": 300,
    "default_ttl": 3600,
    "auto_ptr": False,
}
SETTINGS = ("mname", "rname", *DEFAULT_SETTINGS)
# Settings that are part of the zone file: changing one makes the zone dirty.
EXPORTED_SETTINGS = ("mname", "rname", "refresh", "retry", "expire", "minimum", "default_ttl")


def get_zone(session: Session, name: object) -> Zone:
    """A zone by name ("example.test", "example.test." and "Example.Test" are the same); NotFound."""
    key = zone_key(name)
    zone = session.scalar(select(Zone).where(Zone.name == key, Zone.deleted_at.is_(None)))
    if zone is None:
        raise NotFound(f"zone {key} does not exist")
    return zone


def list_zones(session: Session) -> list[Zone]:
    """Every zone, by name (a handful to a few hundred: no pagination)."""
    return list(session.scalars(select(Zone).where(Zone.deleted_at.is_(None)).order_by(Zone.name)))


def settings_of(zone: Zone) -> dict[str, Any]:
    return {field: getattr(zone, field) for field in SETTINGS}


def _settings(origin: dns.name.Name, kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(SETTINGS))
    if unknown:
        raise ValidationError(unknown[0], f"is not a zone setting (settings: {', '.join(SETTINGS)})")
    checked: dict[str, Any] = {}
    for field, value in values.items():
        if field == "mname":
            checked[field] = hostname(field, value, origin)
        elif field == "rname":
            checked[field] = mailbox(field, value, origin)
        elif field == "auto_ptr":
            if not isinstance(value, bool):
                raise ValidationError(field, "must be true or false")
            if value and kind != FORWARD:
                raise ValidationError(field, "automatic PTR records are made for the A/AAAA records of forward zones")
            checked[field] = value
        else:
            checked[field] = parse_ttl(value, field)
    return checked


def _nameserver_records(
    origin: dns.name.Name, kind: str, nameservers: Iterable[Any], glue: Mapping[str, Iterable[Any]]
) -> ChangeSet:
    """The apex NS records, and the address records of the name servers that live inside the zone."""
    servers = [hostname("nameservers", server, origin) for server in nameservers]
    if not servers:
        raise ValidationError("nameservers", "a zone needs at least one name server")
    addresses = {hostname("glue", server, origin): list(values) for server, values in glue.items()}
    changes = ChangeSet(adds=[record(origin, kind, name="@", rtype="NS", value=server) for server in servers])
    for server in dict.fromkeys(servers):
        inside = dns.name.from_text(server).is_subdomain(origin)
        if inside and not addresses.get(server):
            raise ValidationError("glue", f"{server} is inside the zone: give its IPv4 or IPv6 address")
        if not inside and server in addresses:
            raise ValidationError("glue", f"{server} is outside the zone; its addresses are not kept here")
        for address in addresses.get(server, []):
            rtype = "AAAA" if _ip_version(address) == 6 else "A"
            changes.adds.append(record(origin, kind, name=server, rtype=rtype, value=address))
    unused = sorted(set(addresses) - set(servers))
    if unused:
        raise ValidationError("glue", f"{unused[0]} is not one of the zone's name servers")
    return changes


def _ip_version(address: Any) -> int:
    try:
        return ipaddress.ip_address(str(address).strip()).version
    except ValueError:
        raise ValidationError("glue", f"'{address}' is not an IP address") from None


def create_zone(
    session: Session,
    name: object,
    *,
    mname: object,
    rname: object,
    who: str,
    nameservers: Iterable[Any] | None = None,
    glue: Mapping[str, Iterable[Any]] | None = None,
    serial: int = 0,
    **settings: Any,
) -> Zone:
    """A new zone with its SOA settings (``DEFAULT_SETTINGS`` for those not given) and apex NS records.

    ``nameservers`` defaults to ``[mname]``; a name server inside the zone needs its addresses in
    ``glue`` ({"ns1.example.test.": ["192.0.2.1"]}). ``serial`` is where numbering starts (a zone moved
    from another server keeps counting from the serial it had there). The zone starts dirty.
    """
    who = parse_actor(who)
    origin = zone_origin(name)
    kind = zone_kind(origin)
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial < SERIAL_MODULO:
        raise ValidationError("serial", f"must be a whole number 0..{SERIAL_MODULO - 1}")
    values = DEFAULT_SETTINGS | _settings(origin, kind, {"mname": mname, "rname": rname, **settings})
    records = _nameserver_records(origin, kind, nameservers or [values["mname"]], glue or {})
    existing = session.scalar(select(Zone).where(Zone.name == origin.to_text()))
    if existing is not None:
        pending = " and is still being removed from the DNS server; try again shortly" if existing.deleted_at else ""
        raise Conflict(f"zone {origin} already exists{pending}")
    zone = Zone(name=origin.to_text(), kind=kind, serial=serial, **values)
    session.add(zone)
    try:
        session.flush()
    except IntegrityError:
        # Someone created the same zone between our check and our insert.
        raise Conflict(f"zone {origin} already exists") from None
    history.write(session, [history.entry(zone, "zone-create", who, after=settings_of(zone))])
    audit.record(session, "dns.zone.create", "zone", zone.name, {"after": settings_of(zone)}, actor=who)
    apply(session, zone, records, who=who)
    return zone


def update_zone(session: Session, name: object, *, expected_version: int, who: str, **changes: Any) -> Zone:
    """Change some settings (``SETTINGS``) of the zone the caller read at ``expected_version``.

    Turning ``auto_ptr`` on applies to A/AAAA records written from then on.
    """
    who = parse_actor(who)
    zone = lock_zone(session, name)
    if zone.version != expected_version:
        raise StaleVersion(f"zone {zone.name}", expected_version, zone.version)
    checked = _settings(dns.name.from_text(zone.name), zone.kind, changes)
    before = settings_of(zone)
    changed = {field: value for field, value in checked.items() if before[field] != value}
    if not changed:
        return zone
    for field, value in changed.items():
        setattr(zone, field, value)
    zone.version += 1
    if any(field in EXPORTED_SETTINGS for field in changed):
        zone.change_seq += 1
    history.write(session, [history.entry(zone, "zone-update", who, before=before, after=settings_of(zone))])
    audit.record(
        session, "dns.zone.update", "zone", zone.name, {"before": before, "after": settings_of(zone)}, actor=who
    )
    return zone


def delete_zone(session: Session, name: object, *, who: str, expected_version: int | None = None) -> None:
    """Delete the zone for users now; it stays in BIND until the next regeneration removes it there.

    Automatic PTR records it caused in reverse zones stay (they are ordinary records there).
    """
    who = parse_actor(who)
    zone = lock_zone(session, name)
    if expected_version is not None and zone.version != expected_version:
        raise StaleVersion(f"zone {zone.name}", expected_version, zone.version)
    zone.deleted_at = utcnow()
    zone.version += 1
    zone.change_seq += 1
    history.write(session, [history.entry(zone, "zone-delete", who, before=settings_of(zone))])
    audit.record(session, "dns.zone.delete", "zone", zone.name, {"before": settings_of(zone)}, actor=who)
