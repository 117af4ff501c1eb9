"""Keyset pages at any depth hold exactly the records the full order puts there, in every sort and
direction, with filters, on SQLite and MariaDB (the cursor condition is spelled per database)."""

from __future__ import annotations

import dns.name
import pytest
from sqlalchemy import or_, select

from playdeck import db
from playdeck.dns import changes, listing
from playdeck.dns.changes import ChangeSet
from playdeck.dns.models import Record
from playdeck.dns.validation import record
from tests.dns.conftest import ZONE, make_zone

TTLS = (60, 300, 3600)


@pytest.fixture(params=["embedded", "production"])
def many(request: pytest.FixtureRequest) -> int:
    """The zone with ~330 records: several per RRset, names with and without "-", TTLs repeating."""
    request.getfixturevalue(request.param)
    make_zone()
    origin = dns.name.from_text(ZONE)
    adds = []
    for i in range(60):
        name = f"{'h-' if i % 3 else 'h'}{i:02d}" if i % 5 else f"h{i:02d}-x"
        ttl = TTLS[i % len(TTLS)]
        adds += [record(origin, "forward", name=name, rtype="A", value=f"192.0.2.{i}", ttl=ttl)]
        adds += [record(origin, "forward", name=name, rtype="A", value=f"198.51.100.{i}", ttl=ttl)]
        adds += [record(origin, "forward", name=name, rtype="TXT", value=f"note {i}", ttl=TTLS[(i + 1) % 3])]
        if i % 2:
            adds += [record(origin, "forward", name=name, rtype="AAAA", value=f"2001:db8::{i:x}", ttl=ttl)]
        if i % 4 == 0:
            adds += [record(origin, "forward", name="@", rtype="TXT", value=f"apex {i}", ttl=300)]
            adds += [record(origin, "forward", name=name, rtype="MX", value=f"{i} mail{i}", ttl=ttl)]
            adds += [record(origin, "forward", name=f"mail{i}", rtype="A", value=f"203.0.113.{i}", ttl=ttl)]
    with db.session_scope() as session:
        changes.apply(session, changes.lock_zone(session, ZONE), ChangeSet(adds=adds), who="bob")
    return len(adds) + 2  # and the NS and ns1's A


def full_order(sort: str, descending: bool, rtype: str | None = None, search: str | None = None) -> list[tuple]:
    """The database's own order of every matching record: (id, *sort columns)."""
    columns = listing.SORTS[sort]
    query = select(Record.id, *columns)
    if rtype:
        query = query.where(Record.rtype == rtype)
    if search:
        query = query.where(or_(Record.name.like(f"%{search}%"), Record.value.like(f"%{search}%")))
    with db.session_scope() as session:
        return session.execute(query.order_by(*(c.desc() if descending else c.asc() for c in columns))).all()


def page_after(row: tuple | None, sort: str, descending: bool, per_page: int, **filters) -> listing.RecordPage:
    after = None if row is None else listing._encode_cursor(tuple(row[1:]))
    with db.session_scope() as session:
        return listing.list_records(
            session, ZONE, sort=sort, descending=descending, after=after, per_page=per_page, **filters
        )


def test_every_page_at_every_depth_is_exact(many):
    for sort in listing.SORTS:
        for descending in (False, True):
            everything = full_order(sort, descending)
            assert len(everything) == many
            ids = [row.id for row in everything]
            for per_page, step in ((1, 11), (7, 2), (50, 11)):
                # From any record: the next page is exactly the records after it.
                for position in range(0, many, step):
                    page = page_after(everything[position], sort, descending, per_page)
                    expected = ids[position + 1 : position + 1 + per_page]
                    assert [row.id for row in page.rows] == expected, (sort, descending, per_page, position)
                    assert page.has_next == (position + 1 + per_page < many)
            assert walk(sort, descending) == ids


def walk(sort: str, descending: bool) -> list[int]:
    """Following the cursors from the first page."""
    walked, page = [], page_after(None, sort, descending, 7)
    while True:
        walked += [row.id for row in page.rows]
        if not page.has_next:
            return walked
        with db.session_scope() as session:
            page = listing.list_records(
                session, ZONE, sort=sort, descending=descending, after=page.next_cursor, per_page=7
            )


def test_filtered_deep_pages_are_exact(many):
    for sort in listing.SORTS:
        for filters in ({"rtype": "TXT"}, {"rtype": "MX"}, {"search": "h-1"}, {"search": "note 5"}):
            for descending in (False, True):
                everything = full_order(sort, descending, **filters)
                ids = [row.id for row in everything]
                assert ids, filters
                for position in range(0, len(everything), 1 + len(everything) // 40):
                    page = page_after(everything[position], sort, descending, 5, **filters)
                    assert [row.id for row in page.rows] == ids[position + 1 : position + 6], (sort, filters, position)


def test_a_cursor_of_another_sort_is_refused(zone):
    by_ttl = page_after(None, "ttl", False, 1).next_cursor
    with pytest.raises(listing.ValidationError) as refused, db.session_scope() as session:
        listing.list_records(session, ZONE, sort="name", after=by_ttl)
    assert refused.value.field == "after"
