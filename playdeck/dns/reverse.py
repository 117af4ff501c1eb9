"""Automatic PTR records: which managed reverse zone covers an address, and the PTR it gets there.

A forward zone with ``auto_ptr`` on has every A/AAAA record it gains mirrored by a PTR in the most specific
reverse zone we manage that covers the address, and that PTR removed with the address record
(``playdeck.dns.changes`` does both in the same transaction as the forward change).
"""

from __future__ import annotations

from collections.abc import Iterable

import dns.name
import dns.reversename
from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck.dns.models import Zone
from playdeck.dns.validation import REVERSE, RecordData

ADDRESS_TYPES = ("A", "AAAA")


def address_pairs(records: Iterable[RecordData], origin: dns.name.Name) -> set[tuple[str, str]]:
    """(absolute owner, address) of the A/AAAA records that can have a PTR (wildcards cannot)."""
    pairs = set()
    for record in records:
        if record.rtype in ADDRESS_TYPES and not record.name.startswith("*"):
            owner = origin if record.name == "@" else dns.name.from_text(record.name, origin)
            pairs.add((owner.to_text(), record.value))
    return pairs


def reverse_name(address: str) -> dns.name.Name:
    return dns.reversename.from_address(address)


def managed_reverse_zones(session: Session) -> set[str]:
    return set(session.scalars(select(Zone.name).where(Zone.kind == REVERSE, Zone.deleted_at.is_(None))))


def covering_zone(address: str, zone_names: set[str]) -> str | None:
    """Of ``zone_names``, the longest that contains the address's reverse name."""
    name = reverse_name(address)
    for depth in range(1, len(name.labels)):
        candidate = name.split(depth)[1].to_text()
        if candidate in zone_names:
            return candidate
    return None
