"""Tables of the DNS service: zones, their RRsets and records, and the change history.

Names are stored the way the export hands them to the zone-file renderer: a zone's name absolute and
lowercase with its trailing dot, owner names relative to the zone and lowercase, ``@`` for the apex.
Values are dnspython's canonical text, made when the record is written, so reading a zone back (list,
export) never runs dnspython again.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session

from playdeck.model_base import NEVER_REUSE_IDS, Base, BigId, LongText, Timestamp, utcnow

# The longest presentation form of a name we accept (253 octets plus the trailing dot and some slack).
NAME_LENGTH = 255
# Session.info key: the zones whose change_seq moved in the session's transaction (name -> Zone).
CHANGED_ZONES = "playdeck.dns.changed_zones"


class Zone(Base):
    """One zone we serve. ``change_seq > regenerated_seq`` means BIND does not serve the DB's content yet."""

    __tablename__ = "dns_zones"
    __table_args__ = (UniqueConstraint("name", name="uq_dns_zones_name"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Absolute, lowercase, with the trailing dot: "example.test.", "2.0.192.in-addr.arpa.".
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # forward | reverse, from the name (below in-addr.arpa. or ip6.arpa. is reverse).
    kind: Mapped[str] = mapped_column(String(8))
    # SOA fields; the serial is not among them, see ``serial``.
    mname: Mapped[str] = mapped_column(String(NAME_LENGTH))
    rname: Mapped[str] = mapped_column(String(NAME_LENGTH))
    refresh: Mapped[int] = mapped_column(Integer)
    retry: Mapped[int] = mapped_column(Integer)
    expire: Mapped[int] = mapped_column(Integer)
    minimum: Mapped[int] = mapped_column(Integer)
    default_ttl: Mapped[int] = mapped_column(Integer)
    # The serial the zone was last exported with; a regeneration of a dirty zone moves it on first.
    serial: Mapped[int] = mapped_column(BigInteger, default=0)
    # What BIND was verified to serve after the last successful regeneration (None: never).
    served_serial: Mapped[int | None] = mapped_column(BigInteger)
    # Bumped by every committed change of the zone, in the change's own transaction.
    change_seq: Mapped[int] = mapped_column(BigInteger, default=1)
    # The change_seq that the last successful regeneration exported.
    regenerated_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Kept by every write so the zone list never counts 100,000 rows.
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    # A/AAAA records of this (forward) zone get a PTR in the managed reverse zone covering the address.
    auto_ptr: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The last regeneration run started for the zone, and why it failed ("" once one succeeds).
    last_run_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("runs.id", ondelete="SET NULL", name="fk_dns_zones_last_run_id_runs")
    )
    last_error: Mapped[str] = mapped_column(Text, default="")
    regenerated_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # Set by delete_zone: the zone is gone for users but stays until a regeneration removed it from BIND.
    deleted_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # Optimistic concurrency for the zone's own settings (records carry their own versions).
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    @property
    def dirty(self) -> bool:
        return self.change_seq > self.regenerated_seq


@event.listens_for(Zone.change_seq, "set")
def _note_changed(zone: Zone, value: int, old: Any, initiator: Any) -> None:
    """Every write that moves a zone's change_seq (a record, its automatic PTR in a reverse zone, the
    zone's settings or deletion) leaves the zone here, so the transaction queues its regeneration
    (``scheduling.schedule_changed``) without each writer naming the zones it touched."""
    session = object_session(zone)
    if session is not None:
        session.info.setdefault(CHANGED_ZONES, {})[zone.name] = zone


class RRset(Base):
    """The records of one name and type share one TTL: each record's (zone, name, type, ttl) is a foreign
    key to its RRset's row, which has one TTL per primary key; a new TTL cascades to the records."""

    __tablename__ = "dns_rrsets"
    # The target of the records' foreign key (a parent key must be unique as a whole).
    __table_args__ = (UniqueConstraint("zone_id", "name", "rtype", "ttl", name="uq_dns_rrsets_ttl"),)

    zone_id: Mapped[int] = mapped_column(
        ForeignKey("dns_zones.id", ondelete="CASCADE", name="fk_dns_rrsets_zone_id_dns_zones"), primary_key=True
    )
    # Relative to the zone, lowercase, "@" for the apex.
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    rtype: Mapped[str] = mapped_column(String(10), primary_key=True)
    ttl: Mapped[int] = mapped_column(Integer)


class Record(Base):
    """One value of an RRset. Zone, name, type and TTL are repeated here, tied to the RRset's by a foreign
    key, so that listing a zone in name, type or TTL order walks one index and the export reads one table:
    joining 100,000 records to their RRsets costs MariaDB over a second."""

    __tablename__ = "dns_records"
    __table_args__ = (
        ForeignKeyConstraint(
            ["zone_id", "name", "rtype", "ttl"],
            ["dns_rrsets.zone_id", "dns_rrsets.name", "dns_rrsets.rtype", "dns_rrsets.ttl"],
            ondelete="CASCADE",
            onupdate="CASCADE",
            name="fk_dns_records_rrset",
        ),
        # (zone, name, type, value) is unique; MySQL cannot index a TEXT value, so its hash stands in.
        UniqueConstraint("zone_id", "name", "rtype", "value_hash", name="uq_dns_records_value"),
        # Keyset pagination in the orders the record table offers (playdeck.dns.listing.SORTS).
        Index("ix_dns_records_by_name", "zone_id", "name", "rtype", "id"),
        Index("ix_dns_records_by_type", "zone_id", "rtype", "name", "id"),
        Index("ix_dns_records_by_ttl", "zone_id", "ttl", "name", "rtype", "id"),
        # "What points at this name?" (MX/SRV/NS need their in-zone target to have an address; PTR cleanup).
        Index("ix_dns_records_target", "zone_id", "target"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    zone_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    rtype: Mapped[str] = mapped_column(String(10))
    # Always the RRset's TTL (the foreign key sees to it).
    ttl: Mapped[int] = mapped_column(Integer)
    # dnspython's canonical text, names absolute and lowercase: what the zone file gets, verbatim.
    value: Mapped[str] = mapped_column(Text)
    # sha256 hex of ``value``.
    value_hash: Mapped[str] = mapped_column(String(64))
    # The absolute name a CNAME, MX, NS, PTR or SRV value points at; None for other types.
    target: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    comment: Mapped[str] = mapped_column(String(255), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class ZoneChange(Base):
    """Who changed what and when, with the state before and after; kept when the zone or record goes."""

    __tablename__ = "dns_changes"
    __table_args__ = (
        Index("ix_dns_changes_zone", "zone_id", "id"),
        Index("ix_dns_changes_zone_name", "zone_name", "id"),
        Index("ix_dns_changes_record", "record_id", "id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    zone_id: Mapped[int | None] = mapped_column(
        ForeignKey("dns_zones.id", ondelete="SET NULL", name="fk_dns_changes_zone_id_dns_zones")
    )
    zone_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # No foreign key: the history of a deleted record stays.
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    # create | update | delete | import | zone-create | zone-update | zone-delete
    action: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    # The zone's change_seq this change produced: served once regenerated_seq reaches it.
    change_seq: Mapped[int] = mapped_column(BigInteger)
    # Why, when it was not the user's own edit ("automatic PTR for www.example.test. A 192.0.2.10").
    note: Mapped[str] = mapped_column(String(255), default="")
    # JSON objects kept as text so SQLite and MySQL store them alike; "{}" when there is no side.
    before_json: Mapped[str] = mapped_column(LongText, default="{}")
    after_json: Mapped[str] = mapped_column(LongText, default="{}")

    @property
    def before(self) -> dict[str, Any]:
        return json.loads(self.before_json or "{}")

    @property
    def after(self) -> dict[str, Any]:
        return json.loads(self.after_json or "{}")
