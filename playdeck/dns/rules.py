"""Rules between the records of one zone, checked on the zone as it will be after a change.

One write (a record created, edited, deleted), an import and a new zone's first records all go through
``check``, given the zone's contents as they would be (``Overlay`` of the stored zone and the change, or
``MemoryZone`` for a whole imported file) and the names the change touched:

- a CNAME is the only data at its name, and there is one at most (not at the apex: ``validation``);
- NS records below the apex delegate the name: nothing else may live at that name;
- MX, SRV and NS records pointing inside the zone point at a name with an A or AAAA record (BIND
  refuses to load the zone otherwise, and refuses a CNAME there), so such a name keeps its address;
- the apex keeps at least one NS record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

import dns.name

from playdeck.dns.validation import APEX, RecordData
from playdeck.errors import ValidationError

ADDRESS_TYPES = frozenset({"A", "AAAA"})
# Types whose in-zone target must have an address.
REFERRING_TYPES = frozenset({"MX", "NS", "SRV"})
# How many referring records a refusal quotes.
QUOTED_REFERRERS = 3

RecordKey = tuple[str, str, str]  # (name, type, value)


class ZoneContents(Protocol):
    """A read-only view of one zone's records; names relative ("@" for the apex), targets absolute."""

    origin: dns.name.Name

    def values(self, name: str, rtype: str) -> set[str]: ...

    def types_at(self, name: str) -> set[str]: ...

    def referrers(self, target: str) -> list[RecordKey]:
        """MX, NS and SRV records whose value points at ``target`` (absolute text)."""
        ...


class MemoryZone:
    """Contents held in memory: a whole zone file being imported, a pending change, a test's model."""

    def __init__(self, origin: dns.name.Name, records: Iterable[RecordData] = ()) -> None:
        self.origin = origin
        self._values: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._types: dict[str, set[str]] = defaultdict(set)
        self._referrers: dict[str, set[RecordKey]] = defaultdict(set)
        for record in records:
            self.add(record)

    def add(self, record: RecordData) -> None:
        self._values[(record.name, record.rtype)].add(record.value)
        self._types[record.name].add(record.rtype)
        if record.rtype in REFERRING_TYPES and record.target:
            self._referrers[record.target].add(record.key)

    def names(self) -> set[str]:
        return set(self._types)

    def values(self, name: str, rtype: str) -> set[str]:
        return set(self._values.get((name, rtype), ()))

    def types_at(self, name: str) -> set[str]:
        return set(self._types.get(name, ()))

    def referrers(self, target: str) -> list[RecordKey]:
        return sorted(self._referrers.get(target, ()))


class Overlay:
    """The stored contents with records removed and added: the zone as a pending change would leave it."""

    def __init__(self, base: ZoneContents, removed: Iterable[RecordKey], added: Iterable[RecordData]) -> None:
        self.origin = base.origin
        self._base = base
        self._removed = set(removed)
        self._added = MemoryZone(base.origin, added)

    def values(self, name: str, rtype: str) -> set[str]:
        kept = {value for value in self._base.values(name, rtype) if (name, rtype, value) not in self._removed}
        return kept | self._added.values(name, rtype)

    def types_at(self, name: str) -> set[str]:
        candidates = self._base.types_at(name) | self._added.types_at(name)
        return {rtype for rtype in candidates if self.values(name, rtype)}

    def referrers(self, target: str) -> list[RecordKey]:
        kept = [key for key in self._base.referrers(target) if key not in self._removed]
        return sorted(set(kept) | set(self._added.referrers(target)))


def absolute(name: str, origin: dns.name.Name) -> str:
    return origin.to_text() if name == APEX else f"{name}.{origin.to_text()}"


def relative(target: str, origin: dns.name.Name) -> str | None:
    """``target`` relative to the zone, or None when it lies outside."""
    name = dns.name.from_text(target)
    return name.relativize(origin).to_text() if name.is_subdomain(origin) else None


def _quote(keys: list[RecordKey]) -> str:
    shown = "; ".join(" ".join(key) for key in keys[:QUOTED_REFERRERS])
    more = f" and {len(keys) - QUOTED_REFERRERS} more" if len(keys) > QUOTED_REFERRERS else ""
    return shown + more


def check(contents: ZoneContents, touched: Iterable[str], added: Iterable[RecordData]) -> None:
    """Refuse (ValidationError) a zone state that breaks a rule at a touched name or for an added record."""
    origin = contents.origin
    for name in sorted(set(touched)):
        types = contents.types_at(name)
        shown = absolute(name, origin)
        if "CNAME" in types and len(types) > 1:
            others = ", ".join(sorted(types - {"CNAME"}))
            raise ValidationError("name", f"{shown} cannot have a CNAME and other records ({others}) at once")
        if "CNAME" in types and len(contents.values(name, "CNAME")) > 1:
            raise ValidationError("name", f"{shown} can have only one CNAME record")
        if "NS" in types and name != APEX and len(types) > 1:
            others = ", ".join(sorted(types - {"NS"}))
            raise ValidationError("name", f"{shown} is delegated (NS) and cannot have other records ({others})")
        if name == APEX and "NS" not in types:
            raise ValidationError("name", f"the zone {origin} needs at least one NS record at its apex")
        if not types & ADDRESS_TYPES:
            referrers = contents.referrers(shown)
            if referrers:
                raise ValidationError(
                    "name", f"{shown} must keep an A or AAAA record: {_quote(referrers)} point(s) at it"
                )
    for record in added:
        if record.rtype not in REFERRING_TYPES or not record.target:
            continue
        target = relative(record.target, origin)
        if target is None:
            continue
        target_types = contents.types_at(target)
        if "CNAME" in target_types:
            raise ValidationError("value", f"{record.target} is a CNAME; {record.rtype} records must not point at one")
        if not target_types & ADDRESS_TYPES:
            raise ValidationError(
                "value", f"{record.target} is in this zone but has no A or AAAA record; add its address first"
            )
