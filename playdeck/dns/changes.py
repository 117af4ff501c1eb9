"""The one way the records of a zone change, inside the caller's transaction.

``lock_zone`` first: it locks the zone's row until the transaction ends, so writers of one zone queue
there and every check below sees the zone as no one else is changing it. ``apply`` then:

1. works out the TTL each touched RRset ends with (a TTL given with a record is the RRset's TTL: the
   other records of that name and type follow, and their versions and history say so);
2. refuses duplicates (``Conflict``) and anything ``playdeck.dns.rules`` refuses on the zone as the
   change would leave it (``ValidationError``) — before writing anything;
3. writes the rows, removes RRsets left empty, bumps the zone's ``change_seq`` (the zone is dirty until a
   regeneration exports that change) and ``record_count``, and writes one history row per record;
4. for a forward zone with ``auto_ptr``, adds or removes the PTRs of its A/AAAA records in the managed
   reverse zones covering them, through ``apply`` on those zones (locked after the forward zone, in name
   order, so two writers never wait for each other's locks).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import dns.name
from sqlalchemy import Row, and_, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from playdeck import audit
from playdeck.dns import history, reverse, rules
from playdeck.dns.models import Record, RRset, Zone
from playdeck.dns.validation import FORWARD, REVERSE, RecordData, record, zone_origin
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.models import utcnow

RRsetKey = tuple[str, str]  # (name, type)
# Above this many RRsets a change reads the zone's whole RRset table rather than an IN list.
MAX_KEYS_IN_QUERY = 500
# How many referring records the rules quote at most (they say "and N more" past a few).
MAX_REFERRERS = 100


@dataclass
class ChangeSet:
    """Records to add, stored records to edit in place (they keep their id) or delete, RRset TTLs to set."""

    adds: list[RecordData] = field(default_factory=list)
    edits: list[tuple[Record, RecordData]] = field(default_factory=list)
    deletes: list[Record] = field(default_factory=list)
    ttls: dict[RRsetKey, int] = field(default_factory=dict)

    @property
    def new_records(self) -> list[RecordData]:
        return self.adds + [new for _, new in self.edits]

    @property
    def removed_keys(self) -> list[rules.RecordKey]:
        return [(row.name, row.rtype, row.value) for row in self.deletes + [old for old, _ in self.edits]]

    def touched_rrsets(self) -> set[RRsetKey]:
        keys = {(data.name, data.rtype) for data in self.new_records} | set(self.ttls)
        return keys | {(name, rtype) for name, rtype, _ in self.removed_keys}

    def __bool__(self) -> bool:
        return bool(self.adds or self.edits or self.deletes or self.ttls)


def zone_key(name: object) -> str:
    """The stored form of a zone name ("Example.Test" -> "example.test."); NotFound for nonsense."""
    try:
        return zone_origin(name).to_text()
    except ValidationError:
        raise NotFound(f"zone {name!r} does not exist") from None


def lock_zone(session: Session, name: object, *, deleted: bool | None = False) -> Zone:
    """The zone's row, locked until the transaction ends. Call it before reading anything of the zone.

    A zone deleted but not yet removed from BIND is found only with ``deleted=True`` (or None: either).
    """
    key = zone_key(name)
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write as the transaction's first statement takes the database's
        # write lock now (waiting for busy_timeout), so no other writer slips in between read and write.
        session.execute(
            # (updated_at named too, or its onupdate would stamp a zone nobody changed.)
            update(Zone).where(Zone.name == key).values(version=Zone.version, updated_at=Zone.updated_at),
            execution_options={"synchronize_session": False},
        )
    query = select(Zone).where(Zone.name == key)
    if deleted is not None:
        query = query.where(Zone.deleted_at.isnot(None) if deleted else Zone.deleted_at.is_(None))
    zone = session.scalar(query.with_for_update().execution_options(populate_existing=True))
    if zone is None:
        raise NotFound(f"zone {key} does not exist")
    return zone


@dataclass
class _StoredRRset:
    ttl: int
    values: set[str] = field(default_factory=set)


class StoredZone:
    """A zone's records as stored (``rules.ZoneContents``), read a name at a time.

    The records at a name are read once, all types in one query, and kept: a change reads the zone before
    writing anything and holds the zone's lock meanwhile, so they cannot change under it. They stand for
    the RRsets too: an RRset exists exactly while it has records (``apply`` adds and drops RRsets so), and
    a record's TTL is its RRset's (the foreign key between them sees to it).
    """

    def __init__(self, session: Session, zone: Zone) -> None:
        self.origin = dns.name.from_text(zone.name)
        self._session = session
        self._zone_id = zone.id
        self._at: dict[str, dict[str, _StoredRRset]] = {}

    def _rrsets_at(self, name: str) -> dict[str, _StoredRRset]:
        """The RRsets at ``name`` by type."""
        if name not in self._at:
            rrsets: dict[str, _StoredRRset] = {}
            query = select(Record.rtype, Record.ttl, Record.value).where(
                Record.zone_id == self._zone_id, Record.name == name
            )
            for rtype, ttl, value in self._session.execute(query):
                rrsets.setdefault(rtype, _StoredRRset(ttl)).values.add(value)
            self._at[name] = rrsets
        return self._at[name]

    def ttls(self, keys: set[RRsetKey]) -> dict[RRsetKey, int]:
        """``stored_ttls``, from the records read for the change's check anyway."""
        found = {(name, rtype): self._rrsets_at(name).get(rtype) for name, rtype in sorted(keys)}
        return {key: rrset.ttl for key, rrset in found.items() if rrset is not None}

    def values(self, name: str, rtype: str) -> set[str]:
        rrset = self._rrsets_at(name).get(rtype)
        return set(rrset.values) if rrset else set()

    def types_at(self, name: str) -> set[str]:
        return set(self._rrsets_at(name))

    def referrers(self, target: str) -> list[rules.RecordKey]:
        rows = self._session.execute(
            select(Record.name, Record.rtype, Record.value)
            .where(
                Record.zone_id == self._zone_id,
                Record.target == target,
                Record.rtype.in_(rules.REFERRING_TYPES),
            )
            .limit(MAX_REFERRERS)
        )
        return sorted((row.name, row.rtype, row.value) for row in rows)


def stored_ttls(session: Session, zone: Zone, keys: set[RRsetKey]) -> dict[RRsetKey, int]:
    query = select(RRset.name, RRset.rtype, RRset.ttl).where(RRset.zone_id == zone.id)
    if len(keys) <= MAX_KEYS_IN_QUERY:
        if not keys:
            return {}
        query = query.where(tuple_(RRset.name, RRset.rtype).in_(sorted(keys)))
    return {(row.name, row.rtype): row.ttl for row in session.execute(query) if (row.name, row.rtype) in keys}


def _final_ttls(changes: ChangeSet, stored: dict[RRsetKey, int], default_ttl: int) -> dict[RRsetKey, int]:
    wanted = dict(changes.ttls)
    for data in changes.new_records:
        if data.ttl is None:
            continue
        key = (data.name, data.rtype)
        if wanted.setdefault(key, data.ttl) != data.ttl:
            raise ValidationError(
                "ttl", f"{data.name} {data.rtype} cannot have two TTLs ({wanted[key]} and {data.ttl})"
            )
    final = {}
    for key in changes.touched_rrsets():
        final[key] = wanted[key] if key in wanted else stored.get(key, default_ttl)
    return final


def _refuse_duplicates(contents: rules.ZoneContents, changes: ChangeSet) -> None:
    removed = set(changes.removed_keys)
    seen: set[rules.RecordKey] = set()
    for data in changes.new_records:
        exists = data.value in contents.values(data.name, data.rtype) and data.key not in removed
        if exists or data.key in seen:
            raise Conflict(f"the record {data.describe()} already exists")
        seen.add(data.key)


def verify(session: Session, zone: Zone, changes: ChangeSet, contents: rules.ZoneContents | None = None) -> None:
    """Everything ``apply`` would refuse, refused without writing (an import's preview)."""
    _verify(session, zone, changes, contents)


def _verify(session, zone, changes, contents):
    touched = changes.touched_rrsets()
    if contents is None:
        # The check reads every touched name of the stored zone: their TTLs come with it.
        base = StoredZone(session, zone)
        stored = base.ttls(touched)
    else:
        base = contents
        stored = stored_ttls(session, zone, touched)
    final_ttls = _final_ttls(changes, stored, zone.default_ttl)
    _refuse_duplicates(base, changes)
    after = rules.Overlay(base, changes.removed_keys, changes.new_records)
    rules.check(after, {name for name, _ in touched}, changes.new_records)
    return touched, stored, final_ttls, after


@dataclass(frozen=True)
class Applied:
    """What ``apply`` wrote: the ids of the added records in order, the TTL each touched RRset ends
    with, and the time stamped on the rows written (``updated_at``, and ``created_at`` of the added)."""

    added_ids: list[int]
    ttls: dict[RRsetKey, int]
    at: dt.datetime


def apply(
    session: Session,
    zone: Zone,
    changes: ChangeSet,
    *,
    who: str,
    action: str | None = None,
    note: str = "",
    contents: rules.ZoneContents | None = None,
) -> Applied:
    """Check and write ``changes`` to the locked ``zone``; returns what it wrote (the ids of the added
    records in order, the TTLs, the time stamped), so a caller can show the rows without reading them back.

    ``action`` names every history row (``import``); by default adds are ``create``, edits ``update`` and
    deletes ``delete``. ``contents`` is the zone as stored, when the caller has it in memory already.
    """
    if not changes:
        return Applied([], {}, utcnow())
    touched, stored, final_ttls, after = _verify(session, zone, changes, contents)
    # Worked out before the rows change under the ORM's feet.
    ptr_work = _ptr_work(zone, changes) if zone.auto_ptr and zone.kind == FORWARD else None
    emptied = [key for key in touched if key in stored and not after.values(*key)]

    writer = _Writer(session, zone, stored, final_ttls, who=who, action=action, note=note)
    # A comment is not in the zone file: editing only comments leaves the zone clean.
    if _changes_zone_file(changes, stored, final_ttls):
        zone.change_seq += 1
    zone.record_count += len(changes.adds) - len(changes.deletes)
    # Set with the counters, so that the statements below flush them all in one UPDATE of the zone.
    zone.updated_at = writer.now
    writer.add_rrsets({(data.name, data.rtype) for data in changes.new_records})
    writer.retime_rrsets(exclude={row.id for row in changes.deletes} | {row.id for row, _ in changes.edits})
    writer.delete(changes.deletes)
    writer.edit(changes.edits)
    added_ids = writer.add(changes.adds)
    writer.drop_rrsets(emptied)
    history.write(session, writer.entries)
    counts = {"added": len(changes.adds), "updated": len(changes.edits), "deleted": len(changes.deletes)}
    audit.record(session, "dns.records", "zone", zone.name, counts | {"note": note, "action": action}, actor=who)
    # The ORM's copies of the rows changed by the statements above are stale now.
    for row in changes.deletes:
        session.expunge(row)
    for row, _ in changes.edits:
        session.expire(row)
    if ptr_work:
        _follow_with_ptrs(session, zone.name, ptr_work, who)
    return Applied(added_ids, final_ttls, writer.now)


def _changes_zone_file(changes: ChangeSet, stored: dict[RRsetKey, int], final_ttls: dict[RRsetKey, int]) -> bool:
    if changes.adds or changes.deletes or any(stored.get(key) != ttl for key, ttl in final_ttls.items()):
        return True
    return any((old.name, old.rtype, old.value) != new.key for old, new in changes.edits)


def _chunks(items: list, size: int = 1000) -> Iterable[list]:
    # SQLite allows ~32,000 parameters in a statement; imports delete more rows than that.
    return (items[i : i + size] for i in range(0, len(items), size))


class _Writer:
    """Writes one checked ChangeSet with bulk statements, collecting its history rows as it goes."""

    def __init__(self, session, zone, stored, final_ttls, *, who: str, action: str | None, note: str) -> None:
        self.session = session
        self.zone = zone
        self.stored: dict[RRsetKey, int] = stored
        self.final_ttls: dict[RRsetKey, int] = final_ttls
        self.who = who
        self.action = action
        self.note = note
        self.now = utcnow()
        self.entries: list[dict] = []

    def _log(self, action: str, record_id: int, *, before=None, after=None, note: str | None = None) -> None:
        self.entries.append(
            history.entry(
                self.zone,
                self.action or action,
                self.who,
                record_id=record_id,
                before=before,
                after=after,
                note=self.note if note is None else note,
            )
        )

    @staticmethod
    def _snapshot(record_id: int, data: RecordData | Record | Row, ttl: int) -> dict:
        return history.record_snapshot(record_id, data.name, data.rtype, ttl, data.value, data.comment)

    def _row(self, data: RecordData) -> dict:
        return {
            "zone_id": self.zone.id,
            "name": data.name,
            "rtype": data.rtype,
            "ttl": self.final_ttls[(data.name, data.rtype)],
            "value": data.value,
            "value_hash": data.value_hash,
            "target": data.target,
            "comment": data.comment,
            "updated_at": self.now,
        }

    def _rrset_where(self):
        # Core columns: an executemany over RRsets by key, which the ORM's bulk UPDATE/DELETE does not take.
        table = RRset.__table__.c
        return and_(table.zone_id == self.zone.id, table.name == bindparam("n"), table.rtype == bindparam("t"))

    def add_rrsets(self, needed: set[RRsetKey]) -> None:
        """RRsets the new records belong to, before the records (they point at them)."""
        rows = [
            {"zone_id": self.zone.id, "name": name, "rtype": rtype, "ttl": self.final_ttls[(name, rtype)]}
            for name, rtype in sorted(needed)
            if (name, rtype) not in self.stored
        ]
        if rows:
            self.session.execute(insert(RRset.__table__), rows)

    def retime_rrsets(self, exclude: set[int]) -> None:
        """TTL changes (the foreign key carries them to the records); records that otherwise stay as they are
        get a new version (an editor holding the old one must reload) and a history row saying why."""
        retimed = {key: ttl for key, ttl in self.final_ttls.items() if key in self.stored and self.stored[key] != ttl}
        if not retimed:
            return
        self.session.execute(
            update(RRset.__table__).where(self._rrset_where()),
            [{"n": name, "t": rtype, "ttl": ttl} for (name, rtype), ttl in retimed.items()],
        )
        siblings = [row for row in _records_of(self.session, self.zone, set(retimed)) if row.id not in exclude]
        if not siblings:
            return
        self.session.execute(
            update(Record), [{"id": row.id, "version": row.version + 1, "updated_at": self.now} for row in siblings]
        )
        for row in siblings:
            key = (row.name, row.rtype)
            before = self._snapshot(row.id, row, self.stored[key])
            after = self._snapshot(row.id, row, retimed[key])
            self._log("update", row.id, before=before, after=after, note=f"TTL of {row.name} {row.rtype} set")

    def delete(self, rows: list[Record]) -> None:
        for row in rows:
            self._log("delete", row.id, before=self._snapshot(row.id, row, self.stored[(row.name, row.rtype)]))
        for chunk in _chunks([row.id for row in rows]):
            self.session.execute(delete(Record).where(Record.id.in_(chunk)))

    def edit(self, edits: list[tuple[Record, RecordData]]) -> None:
        if not edits:
            return
        # Logged first: the bulk UPDATE refreshes the ORM objects holding the "before" values.
        for old, new in edits:
            before = self._snapshot(old.id, old, self.stored[(old.name, old.rtype)])
            after = self._snapshot(old.id, new, self.final_ttls[(new.name, new.rtype)])
            self._log("update", old.id, before=before, after=after)
        self.session.execute(
            update(Record), [{"id": old.id, **self._row(new), "version": old.version + 1} for old, new in edits]
        )

    def add(self, adds: list[RecordData]) -> list[int]:
        if not adds:
            return []
        rows = [self._row(data) | {"version": 1, "created_at": self.now} for data in adds]
        ids = self._insert_one(rows[0]) if len(rows) == 1 else self._insert_many(adds, rows)
        for record_id, data in zip(ids, adds, strict=True):
            after = self._snapshot(record_id, data, self.final_ttls[(data.name, data.rtype)])
            self._log("create", record_id, after=after)
        return ids

    def _insert_one(self, row: dict) -> list[int]:
        # One row's id comes with its INSERT: no statement to read it back.
        return [self.session.execute(insert(Record.__table__), row).inserted_primary_key[0]]

    def _insert_many(self, adds: list[RecordData], rows: list[dict]) -> list[int]:
        # A plain executemany, then the ids read back by key: INSERT .. RETURNING in parameter order makes
        # SQLite insert one row per statement (an import of 20,000 records spent 4 s there).
        self.session.execute(insert(Record.__table__), rows)
        keys = {(data.name, data.rtype, data.value_hash) for data in adds}
        query = select(Record.id, Record.name, Record.rtype, Record.value_hash).where(Record.zone_id == self.zone.id)
        if len(keys) <= MAX_KEYS_IN_QUERY:
            query = query.where(tuple_(Record.name, Record.rtype, Record.value_hash).in_(sorted(keys)))
        id_of = {(row.name, row.rtype, row.value_hash): row.id for row in self.session.execute(query)}
        return [id_of[(data.name, data.rtype, data.value_hash)] for data in adds]

    def drop_rrsets(self, emptied: list[RRsetKey]) -> None:
        if emptied:
            self.session.execute(
                delete(RRset.__table__).where(self._rrset_where()), [{"n": n, "t": t} for n, t in emptied]
            )


def _records_of(session: Session, zone: Zone, keys: set[RRsetKey]) -> list[Row]:
    query = select(Record.id, Record.name, Record.rtype, Record.value, Record.comment, Record.version).where(
        Record.zone_id == zone.id
    )
    if len(keys) <= MAX_KEYS_IN_QUERY:
        query = query.where(tuple_(Record.name, Record.rtype).in_(sorted(keys)))
    return [row for row in session.execute(query) if (row.name, row.rtype) in keys]


def _ptr_work(zone: Zone, changes: ChangeSet) -> tuple[set, set]:
    """(owner, address) pairs whose PTR goes, and those whose PTR comes; an unchanged address is neither."""
    origin = dns.name.from_text(zone.name)
    removed = [RecordData(name, rtype, value, None) for name, rtype, value in changes.removed_keys]
    gone = reverse.address_pairs(removed, origin)
    came = reverse.address_pairs(changes.new_records, origin)
    return gone - came, came - gone


def _follow_with_ptrs(session: Session, zone_name: str, work: tuple[set, set], who: str) -> None:
    gone, came = work
    managed = reverse.managed_reverse_zones(session)
    by_zone: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for index, pairs in enumerate((gone, came)):
        for owner, address in pairs:
            covering = reverse.covering_zone(address, managed)
            if covering is not None:
                by_zone[covering][index].append((owner, address))
    for reverse_zone_name in sorted(by_zone):
        reverse_zone = lock_zone(session, reverse_zone_name)
        ptrs, contents = _ptr_changes(session, reverse_zone, *by_zone[reverse_zone_name])
        apply(session, reverse_zone, ptrs, who=who, note=f"automatic PTR for records of {zone_name}", contents=contents)


def _ptr_changes(session: Session, zone: Zone, gone: list, came: list) -> tuple[ChangeSet, rules.MemoryZone]:
    """The PTR changes in one reverse zone, and the records stored at their names (read in bulk: an import
    can add thousands of addresses at once)."""
    origin = dns.name.from_text(zone.name)
    ptr_name = {address: reverse.reverse_name(address).relativize(origin).to_text() for _, address in gone + came}
    names = sorted(set(ptr_name.values()))
    stored: dict[str, list[Record]] = defaultdict(list)
    for chunk in _chunks(names, MAX_KEYS_IN_QUERY):
        for row in session.scalars(select(Record).where(Record.zone_id == zone.id, Record.name.in_(chunk))):
            stored[row.name].append(row)
    changes = ChangeSet()
    for owner, address in gone:
        changes.deletes += [r for r in stored[ptr_name[address]] if r.rtype == "PTR" and r.target == owner]
    added: set[str] = set()
    for owner, address in sorted(came):
        name = ptr_name[address]
        # Only where the address has nothing yet: a PTR someone wrote by hand, or a CNAME, stays.
        if not stored[name] and name not in added:
            changes.adds.append(record(origin, REVERSE, name=name, rtype="PTR", value=owner))
            added.add(name)
    contents = rules.MemoryZone(
        origin, (RecordData(r.name, r.rtype, r.value, r.target) for rows in stored.values() for r in rows)
    )
    return changes, contents
