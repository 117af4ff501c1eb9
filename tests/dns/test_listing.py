"""The record table: keyset pages in name or type order, search, type filter, page numbers."""

from __future__ import annotations

import dns.name
import pytest

from playdeck import db
from playdeck.dns import changes, listing
from playdeck.dns.changes import ChangeSet
from playdeck.dns.validation import record
from playdeck.errors import ValidationError
from tests.dns.conftest import ZONE


@pytest.fixture
def filled(zone) -> list[tuple[str, str]]:
    """The zone with 40 more records: A and TXT at host00..host19."""
    with db.session_scope() as session:
        locked = changes.lock_zone(session, zone)
        origin = dns.name.from_text(zone)
        adds = [
            record(origin, "forward", name=f"host{i:02d}", rtype="A", value=f"192.0.2.{100 + i}") for i in range(20)
        ]
        adds += [record(origin, "forward", name=f"host{i:02d}", rtype="TXT", value=f"note {i}") for i in range(20)]
        changes.apply(session, locked, ChangeSet(adds=adds), who="bob")
    return sorted([(f"host{i:02d}", t) for i in range(20) for t in ("A", "TXT")] + [("@", "NS"), ("ns1", "A")])


def all_pages(**options) -> list:
    rows, cursor, pages = [], None, 0
    while True:
        with db.session_scope() as session:
            page = listing.list_records(session, ZONE, after=cursor, per_page=7, **options)
        rows += page.rows
        pages += 1
        if not page.has_next:
            assert page.next_cursor is None
            return rows
        assert len(page.rows) == 7
        cursor = page.next_cursor
        assert pages < 20


def test_pages_in_name_order_cover_every_record_once(filled):
    rows = all_pages()
    assert [(row.name, row.rtype) for row in rows] == filled
    assert len({row.id for row in rows}) == len(filled)


def test_descending_and_type_order(filled):
    assert [(row.name, row.rtype) for row in all_pages(descending=True)] == filled[::-1]
    by_type = [(row.rtype, row.name) for row in all_pages(sort="type")]
    assert by_type == sorted((rtype, name) for name, rtype in filled)


def test_search_and_type_filter(filled):
    assert {row.name for row in all_pages(search="HOST1")} == {f"host1{i}" for i in range(10)}
    assert [row.value for row in all_pages(search="192.0.2.119")] == ["192.0.2.119"]
    assert [row.value for row in all_pages(search="note 7")] == ['"note 7"']
    assert len(all_pages(rtype="txt")) == 20
    assert all_pages(search="100%_") == []  # LIKE wildcards are searched for literally


def test_page_numbers(filled):
    with db.session_scope() as session:
        third = listing.list_records(session, ZONE, page=3, per_page=5)
    assert [(row.name, row.rtype) for row in third.rows] == filled[10:15] and third.has_next


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"after": "garbage"}, "after"),
        ({"after": "WzEsMiwzXQ"}, "after"),  # [1,2,3]: not a cursor of ours
        ({"sort": "value"}, "sort"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 501}, "per_page"),
        ({"page": -1}, "page"),
        ({"rtype": "HINFO"}, "type"),
        ({"search": "a\nb"}, "search"),
    ],
)
def test_bad_options(zone, options, field):
    with pytest.raises(ValidationError) as refused, db.session_scope() as session:
        listing.list_records(session, ZONE, **options)
    assert refused.value.field == field
