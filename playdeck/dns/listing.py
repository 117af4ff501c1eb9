"""The record table of a zone: search, sort and pages that stay fast at 100,000 records.

Pages are cut with keyset pagination on an index of ``dns_records`` ((zone, name, type, id),
(zone, type, name, id) or (zone, ttl, name, type, id)): the first page and every "next" page read
``per_page + 1`` index entries, however deep. ``page`` numbers (OFFSET) work too, for jumping, and cost
more the further they go. Nothing here counts the zone's records: ``Zone.record_count`` is kept by every
write.

Measured at 100,000 records, 50 a page, on a loaded 2-CPU machine (list_records, median/p95): first or
next page at any depth, any sort, 1.4-8.5/2-13 ms on SQLite 3.40 and 3-9.5/4-20 ms on MariaDB 10.11,
reading ~50 index entries (see ``_after`` for what the cursor condition used to cost). Page 1000 by
number ~130 ms on MariaDB; a search that few records match reads every row of the zone (substring of
name or value): ~0.2-0.3 s on MariaDB, ~45 ms on SQLite. Sorting by TTL without its index sorted the
whole zone for every page: 40-100 ms on SQLite, 350-450 ms on MariaDB.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from playdeck.dns.models import Record
from playdeck.dns.records import ROW_COLUMNS, RecordRow, row_of
from playdeck.dns.validation import no_control_chars, parse_type
from playdeck.dns.zones import get_zone
from playdeck.errors import ValidationError

# The columns each sort orders by, an index's columns after zone_id (models.Record); the last one makes
# the order total, so a cursor is exact.
SORTS = {
    "name": (Record.name, Record.rtype, Record.id),
    "type": (Record.rtype, Record.name, Record.id),
    "ttl": (Record.ttl, Record.name, Record.rtype, Record.id),
}
MAX_PER_PAGE = 500
MAX_SEARCH_CHARS = 255


@dataclass(frozen=True)
class RecordPage:
    rows: list[RecordRow]
    has_next: bool
    # Pass as ``after`` to get the next page (None on the last one).
    next_cursor: str | None


def _encode_cursor(values: tuple) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, columns: tuple) -> tuple:
    """The values of ``columns`` a cursor holds: as many, each of its column's type (str or int)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        values = None
    valid = isinstance(values, list) and len(values) == len(columns)
    if not valid or not all(_of_type(value, column) for value, column in zip(values, columns, strict=True)):
        raise ValidationError("after", "is not a cursor from a previous page (of the same sort)")
    return tuple(values)


def _of_type(value: Any, column: Any) -> bool:
    if column.type.python_type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def _after(columns: tuple, values: tuple, descending: bool, dialect: str) -> list[Any]:
    """(c1, c2, c3) > (v1, v2, v3) as disjoint index ranges, in page order: (c1 = v1 AND c2 = v2 AND
    c3 > v3), then (c1 = v1 AND c2 > v2), then (c1 > v1) ("<" when descending).

    Each is an equality prefix and one range on the sort's index, a seek on both databases. As one OR of
    the three (also with the redundant bound ``c1 >= v1`` in front, which helps the name sort only: type
    and TTL have a handful of distinct values), SQLite walks the index from the zone's or the value's
    first entry, and MariaDB reads a descending page from the far end of the value's entries: at 100,000
    records up to ~1,000,000 SQLite VM steps or 50,000 MariaDB index reads for 50 rows.

    MariaDB (10.11) reads ``c1 = v1`` as "ref" access on the prefix alone, which a descending scan starts
    at the prefix's far end; spelled ``c1 >= v1 AND c1 <= v1`` it is a range that includes the next
    column's bound. SQLite seeks on equalities only, so it gets ``=``.
    """

    def same(column: Any, value: Any) -> Any:
        return column == value if dialect == "sqlite" else and_(column >= value, column <= value)

    def beyond(column: Any, value: Any) -> Any:
        return column < value if descending else column > value

    return [
        and_(
            *(same(column, value) for column, value in zip(columns[:i], values[:i], strict=True)), beyond(column, value)
        )
        for i, (column, value) in reversed(list(enumerate(zip(columns, values, strict=True))))
    ]


def _like_pattern(search: Any) -> str:
    if not isinstance(search, str):
        raise ValidationError("search", "must be text")
    no_control_chars("search", search)
    if len(search) > MAX_SEARCH_CHARS:
        raise ValidationError("search", f"at most {MAX_SEARCH_CHARS} characters")
    escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _positive(field: str, value: Any, maximum: int | None = None) -> int:
    # ASCII digits only: str.isdigit() is true for "²" too, which int() refuses (and reads "١٢" as 12);
    # and not too many for int() (it refuses over 4,300: a 500).
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (maximum and value > maximum):
        raise ValidationError(field, f"must be a whole number from 1{f' to {maximum}' if maximum else ''}")
    return value


def list_records(
    session: Session,
    zone_name: object,
    *,
    search: str | None = None,
    rtype: str | None = None,
    sort: str = "name",
    descending: bool = False,
    after: str | None = None,
    page: int | None = None,
    per_page: int = 50,
) -> RecordPage:
    """One page of the zone's records.

    ``search`` matches names and values containing the text (case-insensitive); ``rtype`` keeps one
    type; ``sort`` is "name" (then type), "type" (then name) or "ttl" (then name and type), ``descending``
    reverses it. ``after`` is the ``next_cursor`` of the previous page; ``page`` (from 1) is used only
    without ``after``.
    """
    zone = get_zone(session, zone_name)
    if sort not in SORTS:
        raise ValidationError("sort", f"must be one of {', '.join(SORTS)}")
    per_page = _positive("per_page", per_page, MAX_PER_PAGE)
    columns = SORTS[sort]
    query = select(*ROW_COLUMNS).where(Record.zone_id == zone.id)
    if rtype:
        query = query.where(Record.rtype == parse_type(rtype, zone.kind))
    if search and search.strip():
        pattern = _like_pattern(search)
        query = query.where(
            or_(Record.name.like(pattern.lower(), escape="\\"), Record.value.like(pattern, escape="\\"))
        )
    order = [column.desc() if descending else column.asc() for column in columns]
    query = query.order_by(*order)
    if after:
        # One seek per range until the page is full; the first ones (the cursor's own name) are short.
        rows: list = []
        ranges = _after(columns, _decode_cursor(after, columns), descending, session.get_bind().dialect.name)
        for beyond in ranges:
            rows += session.execute(query.where(beyond).limit(per_page + 1 - len(rows))).all()
            if len(rows) > per_page:
                break
    else:
        if page is not None:
            query = query.offset((_positive("page", page) - 1) * per_page)
        rows = session.execute(query.limit(per_page + 1)).all()
    has_next = len(rows) > per_page
    rows = rows[:per_page]
    cursor = _encode_cursor(tuple(getattr(rows[-1], column.key) for column in columns)) if has_next else None
    return RecordPage(rows=[row_of(zone.name, row) for row in rows], has_next=has_next, next_cursor=cursor)
