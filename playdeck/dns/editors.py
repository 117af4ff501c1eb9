"""Who edits which zone: a user is granted a zone by its canonical name (``changes.zone_key``).

The grants are stored with the accounts (``auth.models.ZoneEditor``) but named by the DNS domain, so they
live here: DNS builds on accounts, never the other way round.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from playdeck import audit
from playdeck.auth.models import User, ZoneEditor
from playdeck.dns.changes import zone_key
from playdeck.errors import NotFound, ValidationError


def grant_zone(session: Session, user: User, zone: str) -> None:
    key = zone_key(zone)
    if key not in {grant.zone for grant in user.zones}:
        user.zones.append(ZoneEditor(zone=key))
        audit.record(session, "user.grant_zone", "user", user.name, {"zone": key})


def revoke_zone(session: Session, user: User, zone: str) -> None:
    try:
        key = zone_key(zone)
    except (NotFound, ValidationError):
        key = zone  # a grant of a zone that no longer parses or exists is still revoked by its stored name
    grant = next((g for g in user.zones if g.zone == key), None)
    if grant is None:
        raise NotFound(f"{user.name} is not an editor of zone {zone!r}")
    user.zones.remove(grant)
    audit.record(session, "user.revoke_zone", "user", user.name, {"zone": key})
