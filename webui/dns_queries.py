"""What the DNS API and pages read and write, each in one short session (like ``webui.queries``).

Reads return plain dicts, so a template never touches an ORM object whose session has closed. Writes
go through ``playdeck.dns.scheduling.writing``: the change commits together with the regeneration run of
every zone it changed (a reverse zone given an automatic PTR too), and the runs are sent after the
commit. A change BIND never sees (a record's comment) leaves a clean zone clean and queues nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck.db import session_scope
from playdeck.dns import export, history, importing, listing, records, zones
from playdeck.dns.changes import zone_key
from playdeck.dns.models import Zone, ZoneChange
from playdeck.dns.scheduling import DNS_PROJECT, environment_name, writing
from playdeck.dns.validation import FORWARD, FORWARD_TYPES, REVERSE_TYPES
from playdeck.errors import NotFound, ValidationError
from playdeck.models import Environment, Project, Run
from playdeck.runs.conditions import is_active
from playdeck.serializers import iso

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]
# The zone's status as the list shows it.
UP_TO_DATE, PENDING, FAILED = "up to date", "pending", "failed"


def record_types(kind: str) -> tuple[str, ...]:
    return FORWARD_TYPES if kind == FORWARD else REVERSE_TYPES


def sort_keys() -> tuple[str, ...]:
    """The record table's sortable columns: whatever ``listing`` can page through on an index."""
    return tuple(listing.SORTS)


# --- zones ---------------------------------------------------------------------------------------


def _run_states(session: Session, run_ids: set[int]) -> dict[int, str]:
    if not run_ids:
        return {}
    return dict(session.execute(select(Run.id, Run.state).where(Run.id.in_(run_ids))).all())


def _active_runs(session: Session) -> dict[str, tuple[int, str]]:
    """Environment (zone) name → its newest queued or running regeneration run (id, state)."""
    rows = session.execute(
        select(Environment.name, Run.id, Run.state)
        .join(Run, Run.environment_id == Environment.id)
        .join(Project, Project.id == Run.project_id)
        .where(Project.name == DNS_PROJECT, is_active())
        .order_by(Run.id)
    )
    return {row.name: (row.id, row.state) for row in rows}


def _status(zone: Zone) -> str:
    if zone.last_error:
        return FAILED
    return PENDING if zone.dirty else UP_TO_DATE


def _zone_json(zone: Zone, run_states: Mapping[int, str], active: Mapping[str, tuple[int, str]]) -> JsonDict:
    last_run = None
    if zone.last_run_id is not None:
        last_run = {"id": zone.last_run_id, "state": run_states.get(zone.last_run_id)}
    active_run = None
    if environment_name(zone) in active:
        run_id, state = active[environment_name(zone)]
        active_run = {"id": run_id, "state": state}
    return {
        "name": zone.name,
        "kind": zone.kind,
        "serial": zone.serial,
        "served_serial": zone.served_serial,
        "dirty": zone.dirty,
        "status": _status(zone),
        "last_error": zone.last_error,
        "last_run_id": zone.last_run_id,
        "last_run": last_run,
        "active_run": active_run,
        "regenerated_at": iso(zone.regenerated_at),
        "record_count": zone.record_count,
        "version": zone.version,
        "change_seq": zone.change_seq,
        "settings": zones.settings_of(zone),
        "created_at": iso(zone.created_at),
        "updated_at": iso(zone.updated_at),
    }


def zone_json(session: Session, zone: Zone) -> JsonDict:
    ids = {zone.last_run_id} if zone.last_run_id is not None else set()
    return _zone_json(zone, _run_states(session, ids), _active_runs(session))


def zone_list() -> list[JsonDict]:
    """Every zone with its status: a handful of queries however many zones (no per-zone counting)."""
    with session_scope() as session:
        found = zones.list_zones(session)
        states = _run_states(session, {zone.last_run_id for zone in found if zone.last_run_id is not None})
        active = _active_runs(session)
        return [_zone_json(zone, states, active) for zone in found]


def zone_exists(name: str) -> bool:
    try:
        zone_detail(name)
    except NotFound:
        return False
    return True


def zone_detail(name: str) -> JsonDict:
    with session_scope() as session:
        return zone_json(session, zones.get_zone(session, name))


@dataclass(frozen=True)
class Written:
    """What a write returns: its result and the regeneration run it queued (None: coalesced or none)."""

    data: Any
    run_id: int | None


def create_zone(fields: Mapping[str, Any], who: str) -> Written:
    with writing(who) as write:
        name = zones.create_zone(write.session, who=who, **fields).name
    return Written(zone_detail(name), write.run_for(name))


def update_zone(name: str, expected_version: int, changes: Mapping[str, Any], who: str) -> Written:
    with writing(who) as write:
        name = zones.update_zone(write.session, name, expected_version=expected_version, who=who, **changes).name
    return Written(zone_detail(name), write.run_for(name))


def current_zone_version(name: str) -> int:
    with session_scope() as session:
        return zones.get_zone(session, name).version


def delete_zone(name: str, expected_version: int, who: str) -> Written:
    name = zone_key(name)
    with writing(who) as write:
        zones.delete_zone(write.session, name, who=who, expected_version=expected_version)
    # The run removes the zone from BIND, then purges it.
    return Written({"zone": name, "deleted": True}, write.run_for(name))


# --- records -------------------------------------------------------------------------------------


def _renamed(exc: ValidationError, names: Mapping[str, str]) -> ValidationError:
    """The same refusal, naming the parameter the caller sent (``q``) rather than the service's name."""
    if exc.field not in names:
        return exc
    return ValidationError(names[exc.field], exc.message.removeprefix(f"{exc.field}: "))


@dataclass(frozen=True)
class RecordListing:
    zone: JsonDict
    records: list[JsonDict]
    has_next: bool
    next_cursor: str | None


def record_listing(
    zone_name: str,
    *,
    search: str | None,
    rtype: str | None,
    sort: str,
    descending: bool,
    after: str | None,
    page: int | None,
    per_page: int,
    param_names: Mapping[str, str],
) -> RecordListing:
    """One page of the zone's records and the zone itself, from one session. ``param_names`` maps the
    listing's field names to the caller's parameters, so a refusal names what the user typed."""
    with session_scope() as session:
        zone = zones.get_zone(session, zone_name)
        try:
            found = listing.list_records(
                session,
                zone.name,
                search=search,
                rtype=rtype,
                sort=sort,
                descending=descending,
                after=after,
                page=page,
                per_page=per_page,
            )
        except ValidationError as exc:
            raise _renamed(exc, param_names) from None
        return RecordListing(
            zone=zone_json(session, zone),
            records=[row.as_dict() for row in found.rows],
            has_next=found.has_next,
            next_cursor=found.next_cursor,
        )


def record_detail(zone_name: str, record_id: int) -> JsonDict:
    with session_scope() as session:
        return records.get_record(session, zone_name, record_id).as_dict()


def create_record(zone_name: str, fields: Mapping[str, Any], who: str) -> Written:
    with writing(who) as write:
        row = records.create_record(write.session, zone_name, who=who, **fields)
    return Written(row.as_dict(), write.run_for(row.zone))


def update_record(
    zone_name: str, record_id: int, expected_version: int, fields: Mapping[str, Any], who: str
) -> Written:
    with writing(who) as write:
        row = records.update_record(
            write.session, zone_name, record_id, expected_version=expected_version, who=who, **fields
        )
    return Written(row.as_dict(), write.run_for(row.zone))


def delete_record(zone_name: str, record_id: int, expected_version: int, who: str) -> Written:
    zone = zone_key(zone_name)
    with writing(who) as write:
        records.delete_record(write.session, zone, record_id, expected_version=expected_version, who=who)
    return Written(None, write.run_for(zone))


# --- import, export, history ---------------------------------------------------------------------


def import_preview(zone_name: str, text: Any, delete_missing: bool) -> JsonDict:
    with session_scope() as session:
        return importing.preview_import(session, zone_name, text, delete_missing=delete_missing).as_dict()


def import_apply(zone_name: str, text: Any, delete_missing: bool, expected_change_seq: int, who: str) -> Written:
    zone = zone_key(zone_name)
    with writing(who) as write:
        applied = importing.apply_import(
            write.session, zone, text, expected_change_seq=expected_change_seq, who=who, delete_missing=delete_missing
        )
    return Written(applied.as_dict(), write.run_for(zone))


def export_data(zone_name: str) -> JsonDict:
    with session_scope() as session:
        return export.export_zone(session, zone_name)


def _change_json(change: ZoneChange) -> JsonDict:
    return {
        "id": change.id,
        "zone": change.zone_name,
        "record_id": change.record_id,
        "action": change.action,
        "who": change.changed_by,
        "when": iso(change.changed_at),
        "note": change.note,
        "change_seq": change.change_seq,
        "before": change.before,
        "after": change.after,
    }


def change_history(
    zone_name: str, *, record_id: int | None = None, before_id: int | None = None, limit: int = 50
) -> tuple[list[JsonDict], bool]:
    """Newest first, and whether older changes exist. A zone that does not exist and has no history is
    a 404 (a deleted zone keeps its history)."""
    # One row more than asked tells whether there is another page (the service caps what it reads).
    asked = min(limit + 1, history.MAX_PAGE)
    with session_scope() as session:
        try:
            found = history.list_changes(session, zone_name, record_id=record_id, before_id=before_id, limit=asked)
        except ValidationError as exc:
            # The zone's name is the only field the caller did not choose as a parameter.
            if exc.field == "name":
                raise NotFound(f"zone {zone_name!r} does not exist") from None
            raise
        if not found and before_id is None:
            zones.get_zone(session, zone_name)
            if record_id is not None:
                records.get_record(session, zone_name, record_id)
        more = len(found) > limit or (asked == limit and len(found) == limit)
        return [_change_json(change) for change in found[:limit]], more
