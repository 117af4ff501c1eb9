"""Bookkeeping of zone regenerations: which zones need one, the export and serial it uses, its outcome.

The DB is the truth: a zone needs a regeneration while ``change_seq > regenerated_seq`` (``dirty_zones``)
or while it is deleted but not yet purged (``deleted_zones``); losing a broker message loses nothing.
A regeneration run does, each step in its own short transaction:

1. ``begin_regeneration(session, zone, run_id)`` (a run calls ``begin_run``) — locks the zone; when it
   is dirty moves ``serial`` on (``serials.next_serial``: RFC 1982, ``max(old + 1, YYYYMMDD00)``) and
   returns the export with that serial and the ``change_seq`` it contains. Changes committed later make
   the zone dirty again.
2. render, validate, install, reload, verify (the playbook).
3. ``finish_regeneration(session, zone, change_seq=..., served_serial=..., run_id=...)`` on success, or
   with ``error="named-checkzone: ..."`` on failure (the zone shows it; it stays dirty). A late finish of
   an older regeneration never moves ``regenerated_seq`` or ``served_serial`` backwards.

A zone's run decides what it does when it starts (``begin_run``), not when it was queued: a run queued
for a zone that users delete before it starts must remove the zone instead. For a deleted zone (or one
no longer in the DB at all) ``begin_run`` returns a ``Removal``: the run removes the zone from BIND
(playbooks/dns-zone-delete.yml), then ``finish_removal`` purges its rows (``purge_zone``; its history
stays, found by name). Until then the name is taken: ``zones.create_zone`` refuses it ("still being
removed"), so a zone created again never shares a name with rows awaiting their purge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from playdeck.dns.changes import lock_zone, zone_key
from playdeck.dns.export import zone_data
from playdeck.dns.models import Zone
from playdeck.dns.serials import next_serial, serial_gt
from playdeck.errors import NotFound
from playdeck.models import utcnow

MAX_ERROR_CHARS = 60000


@dataclass(frozen=True)
class Regeneration:
    zone: str
    serial: int
    # The zone's change_seq the export contains; hand it back to finish_regeneration.
    change_seq: int
    export: dict[str, Any]


@dataclass(frozen=True)
class Removal:
    """A run for a zone users deleted, or one already purged: BIND must stop serving it."""

    zone: str


def dirty_zones(session: Session) -> list[Zone]:
    """Zones whose DB content BIND does not serve yet (the regeneration scheduler's work list)."""
    return list(
        session.scalars(
            select(Zone).where(Zone.deleted_at.is_(None), Zone.change_seq > Zone.regenerated_seq).order_by(Zone.name)
        )
    )


def deleted_zones(session: Session) -> list[Zone]:
    """Zones deleted by users that BIND may still serve."""
    return list(session.scalars(select(Zone).where(Zone.deleted_at.isnot(None)).order_by(Zone.name)))


def begin_run(
    session: Session, zone_name: object, *, run_id: int | None = None, today: dt.date | None = None
) -> Regeneration | Removal:
    """What the zone's run does, decided as it starts: a live zone is regenerated (``begin_regeneration``);
    a deleted one, or one no longer in the DB (purged by an earlier removal), removed. Commit right after."""
    key = zone_key(zone_name)
    try:
        zone = lock_zone(session, key, deleted=None)
    except NotFound:
        return Removal(key)
    if zone.deleted_at is None:
        return _regeneration(session, zone, run_id, today)
    if run_id is not None:
        zone.last_run_id = run_id
    return Removal(key)


def begin_regeneration(
    session: Session, zone_name: object, *, run_id: int | None = None, today: dt.date | None = None
) -> Regeneration:
    """Lock the zone, move its serial on if it is dirty, and export it. Commit right after."""
    return _regeneration(session, lock_zone(session, zone_name), run_id, today)


def _regeneration(session: Session, zone: Zone, run_id: int | None, today: dt.date | None) -> Regeneration:
    if zone.dirty:
        zone.serial = next_serial(zone.serial, today or utcnow().date())
    if run_id is not None:
        zone.last_run_id = run_id
    return Regeneration(zone=zone.name, serial=zone.serial, change_seq=zone.change_seq, export=zone_data(session, zone))


def finish_regeneration(
    session: Session,
    zone_name: object,
    *,
    change_seq: int,
    served_serial: int | None = None,
    run_id: int | None = None,
    error: str | None = None,
) -> Zone:
    """Record a regeneration's outcome: the serial BIND serves now, or why it failed."""
    # The zone may have been deleted while it was regenerated; the outcome is still worth keeping.
    zone = lock_zone(session, zone_name, deleted=None)
    if run_id is not None:
        zone.last_run_id = run_id
    if error:
        zone.last_error = error[:MAX_ERROR_CHARS]
        return zone
    zone.regenerated_seq = max(zone.regenerated_seq, change_seq)
    if served_serial is not None and (zone.served_serial is None or serial_gt(served_serial, zone.served_serial)):
        zone.served_serial = served_serial
    zone.last_error = ""
    zone.regenerated_at = utcnow()
    return zone


def finish_removal(session: Session, zone_name: object, *, run_id: int | None = None, error: str | None = None) -> None:
    """Record a removal's outcome: purge the deleted zone now that BIND no longer serves it, or keep it
    with the error (the reaper tries the removal again, see ``scheduling.schedule_dirty``)."""
    try:
        zone = lock_zone(session, zone_name, deleted=True)
    except NotFound:
        # Purged by an earlier removal; or created again since, and its own run (queued behind this one
        # on the environment's lock) will serve it.
        return
    if error:
        zone.last_error = error[:MAX_ERROR_CHARS]
        if run_id is not None:
            zone.last_run_id = run_id
        return
    _purge(session, zone)


def purge_zone(session: Session, zone_name: object) -> None:
    """Drop a deleted zone's rows once BIND no longer serves it (records and RRsets go with it)."""
    _purge(session, lock_zone(session, zone_name, deleted=True))


def _purge(session: Session, zone: Zone) -> None:
    # The history rows keep the zone's name (their zone_id becomes NULL); the runs stay in the dns
    # project's environment named after the zone.
    session.execute(delete(Zone).where(Zone.id == zone.id))
    session.expunge(zone)
