"""Records of a zone: read one, create, edit, delete, each in the caller's transaction.

Writes lock the zone (``changes.lock_zone``), so writers of one zone take turns and the rules between
records are checked against a zone no one else is changing. Edits and deletes carry the ``version`` the
editor read; a record changed since (by anyone, including a TTL set through a sibling record of its
RRset) raises ``StaleVersion`` and nothing is written. A TTL given with a record is the TTL of its
RRset (same name and type): the other records of that RRset follow, and their history says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import dns.name
from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck.dns.changes import Applied, ChangeSet, apply, lock_zone, stored_ttls
from playdeck.dns.errors import StaleVersion
from playdeck.dns.models import Record, Zone
from playdeck.dns.validation import RecordData, parse_actor, record
from playdeck.dns.zones import get_zone
from playdeck.errors import NotFound
from playdeck.serializers import iso

# Marks an edit's field as "leave as it is" (None is a value for ttl: "the RRset's TTL").
UNCHANGED: Any = object()


@dataclass(frozen=True)
class RecordRow:
    """A record as the API and pages show it; ``name`` relative to the zone, ``@`` for the apex."""

    id: int
    zone: str
    name: str
    rtype: str
    ttl: int
    value: str
    comment: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "zone": self.zone,
            "name": self.name,
            "type": self.rtype,
            "ttl": self.ttl,
            "value": self.value,
            "comment": self.comment,
            "version": self.version,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


ROW_COLUMNS = (
    Record.id,
    Record.name,
    Record.rtype,
    Record.ttl,
    Record.value,
    Record.comment,
    Record.version,
    Record.created_at,
    Record.updated_at,
)


def row_of(zone_name: str, row: Any) -> RecordRow:
    return RecordRow(
        id=row.id,
        zone=zone_name,
        name=row.name,
        rtype=row.rtype,
        ttl=row.ttl,
        value=row.value,
        comment=row.comment,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _read(session: Session, zone: Zone, record_id: int) -> RecordRow:
    row = session.execute(select(*ROW_COLUMNS).where(Record.id == record_id, Record.zone_id == zone.id)).first()
    if row is None:
        raise NotFound(f"record {record_id} does not exist in zone {zone.name}")
    return row_of(zone.name, row)


def _stored(session: Session, zone: Zone, record_id: int, expected_version: int) -> Record:
    stored = session.scalar(
        select(Record)
        .where(Record.id == record_id, Record.zone_id == zone.id)
        .execution_options(populate_existing=True)
    )
    if stored is None:
        raise NotFound(f"record {record_id} does not exist in zone {zone.name}")
    if stored.version != expected_version:
        raise StaleVersion(f"record {record_id}", expected_version, stored.version)
    return stored


def _written(
    zone: Zone, record_id: int, data: RecordData, applied: Applied, *, version: int, created_at: dt.datetime
) -> RecordRow:
    """The row ``apply`` just wrote from ``data``, as ``_read`` would find it (the timestamp columns
    keep microseconds on every database), without reading it back."""
    return RecordRow(
        id=record_id,
        zone=zone.name,
        name=data.name,
        rtype=data.rtype,
        ttl=applied.ttls[(data.name, data.rtype)],
        value=data.value,
        comment=data.comment,
        version=version,
        created_at=created_at,
        updated_at=applied.at,
    )


def get_record(session: Session, zone_name: object, record_id: int) -> RecordRow:
    return _read(session, get_zone(session, zone_name), record_id)


def create_record(
    session: Session,
    zone_name: object,
    *,
    name: Any,
    rtype: Any,
    value: Any,
    who: str,
    ttl: Any = None,
    comment: Any = "",
) -> RecordRow:
    """Add one record. ``ttl`` None: the RRset's TTL if it has records, else the zone's default TTL."""
    who = parse_actor(who)
    zone = lock_zone(session, zone_name)
    origin = dns.name.from_text(zone.name)
    data = record(origin, zone.kind, name=name, rtype=rtype, value=value, ttl=ttl, comment=comment)
    applied = apply(session, zone, ChangeSet(adds=[data]), who=who)
    (record_id,) = applied.added_ids
    return _written(zone, record_id, data, applied, version=1, created_at=applied.at)


def update_record(
    session: Session,
    zone_name: object,
    record_id: int,
    *,
    expected_version: int,
    who: str,
    name: Any = UNCHANGED,
    rtype: Any = UNCHANGED,
    value: Any = UNCHANGED,
    ttl: Any = UNCHANGED,
    comment: Any = UNCHANGED,
) -> RecordRow:
    """Change the given fields of the record read at ``expected_version``; the record keeps its id.

    A value is checked again under a changed type or name. Moving a record to another name or type
    without a ``ttl`` keeps its TTL unless the RRset it joins already has one.
    """
    who = parse_actor(who)
    zone = lock_zone(session, zone_name)
    stored = _stored(session, zone, record_id, expected_version)
    # The record's TTL is its RRset's: the foreign key between them sees to it.
    stored_ttl = stored.ttl
    new = record(
        dns.name.from_text(zone.name),
        zone.kind,
        name=stored.name if name is UNCHANGED else name,
        rtype=stored.rtype if rtype is UNCHANGED else rtype,
        value=stored.value if value is UNCHANGED else value,
        ttl=None if ttl is UNCHANGED else ttl,
        comment=stored.comment if comment is UNCHANGED else comment,
    )
    moved = (new.name, new.rtype) != (stored.name, stored.rtype)
    if ttl is UNCHANGED and moved and not stored_ttls(session, zone, {(new.name, new.rtype)}):
        new = replace(new, ttl=stored_ttl)
    unchanged = (new.key, new.comment) == ((stored.name, stored.rtype, stored.value), stored.comment)
    if unchanged and new.ttl in (None, stored_ttl):
        return row_of(zone.name, stored)
    version, created_at = stored.version + 1, stored.created_at  # (``apply`` expires ``stored``.)
    applied = apply(session, zone, ChangeSet(edits=[(stored, new)]), who=who)
    return _written(zone, record_id, new, applied, version=version, created_at=created_at)


def delete_record(session: Session, zone_name: object, record_id: int, *, expected_version: int, who: str) -> None:
    """Delete the record read at ``expected_version`` (and its RRset, when it was the last one)."""
    who = parse_actor(who)
    zone = lock_zone(session, zone_name)
    stored = _stored(session, zone, record_id, expected_version)
    apply(session, zone, ChangeSet(deletes=[stored]), who=who)
