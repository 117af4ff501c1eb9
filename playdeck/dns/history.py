"""Change history of zones and records: who, when, the state before and after, and why when not obvious.

Rows are written by ``playdeck.dns.changes`` and ``playdeck.dns.zones`` in the same transaction as the
change itself; ``list_changes`` reads them newest first, for a zone or for one record, a page at a time.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from playdeck.dns.models import Zone, ZoneChange
from playdeck.dns.validation import zone_origin
from playdeck.errors import ValidationError
from playdeck.models import utcnow

MAX_PAGE = 500


def record_snapshot(record_id: int, name: str, rtype: str, ttl: int, value: str, comment: str) -> dict[str, Any]:
    return {"id": record_id, "name": name, "type": rtype, "ttl": ttl, "value": value, "comment": comment}


def entry(
    zone: Zone,
    action: str,
    who: str,
    *,
    record_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One history row for ``write``; the zone's change_seq must already count this change."""
    return {
        "zone_id": zone.id,
        "zone_name": zone.name,
        "record_id": record_id,
        "action": action,
        "changed_by": who,
        "changed_at": utcnow(),
        "change_seq": zone.change_seq,
        "note": note[:255],
        "before_json": json.dumps(before or {}, sort_keys=True),
        "after_json": json.dumps(after or {}, sort_keys=True),
    }


def write(session: Session, entries: list[dict[str, Any]]) -> None:
    # Core, not the ORM's bulk insert: an import writes one row per record.
    if entries:
        session.execute(insert(ZoneChange.__table__), entries)


def list_changes(
    session: Session,
    zone_name: str,
    *,
    record_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[ZoneChange]:
    """Newest first. A zone's history outlives the zone (it is found by name); ``before_id`` pages back."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", f"must be 1..{MAX_PAGE}")
    query = select(ZoneChange).where(ZoneChange.zone_name == zone_origin(zone_name).to_text())
    if record_id is not None:
        query = query.where(ZoneChange.record_id == record_id)
    if before_id is not None:
        query = query.where(ZoneChange.id < before_id)
    return list(session.scalars(query.order_by(ZoneChange.id.desc()).limit(limit)))
