"""A record change costs a handful of SQL statements on both databases (the record API's throughput
rests on it), and answers with the row exactly as a later read finds it, though it does not read it back."""

from __future__ import annotations

import pytest

from tests.dns.conftest import make_zone
from tests.dns.test_records import create, delete, get, update
from tests.statements import recorded_statements

# Statements per change on MariaDB (the audit log's row included); SQLite adds one, the write that takes
# its lock (changes.lock_zone).
BUDGET = {"create": 7, "update": 7, "delete": 9}


@pytest.fixture(params=["embedded", "production"])
def database(request) -> str:
    request.getfixturevalue(request.param)
    make_zone()
    return request.param


def within_budget(change: str, database: str, seen: list[tuple[str, int]]) -> None:
    budget = BUDGET[change] + (database == "embedded")
    assert len(seen) <= budget, f"{change} took {len(seen)} statements (budget {budget}):\n" + "\n".join(
        statement for statement, _ in seen
    )


def test_a_record_change_stays_within_its_statement_budget(database):
    create("www", "A", "192.0.2.10")  # "www" has an RRset already: the create below joins it
    with recorded_statements() as seen:
        created = create("www", "A", "192.0.2.11", comment="second")
    within_budget("create", database, seen)
    with recorded_statements() as seen:
        updated = update(created, value="192.0.2.12")
    within_budget("update", database, seen)
    with recorded_statements() as seen:
        delete(updated)
    within_budget("delete", database, seen)


def test_a_written_record_is_answered_as_it_is_stored(database):
    created = create("txt", "TXT", '"héllo 😀"', comment=" ünï 😀 ")
    assert created == get(created) and created.version == 1
    # A TTL given with the record retimes its RRset; the microseconds of the timestamps survive the trip.
    updated = update(created, comment="moved", name="elsewhere", ttl=77)
    assert updated == get(updated) and (updated.version, updated.ttl) == (2, 77)
    assert updated.created_at == created.created_at < updated.updated_at
    assert update(updated, comment="moved") == updated == get(updated)
