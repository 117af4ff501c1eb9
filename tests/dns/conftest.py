"""DNS test fixtures: a managed forward zone (and reverse zone) on the embedded or production database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.dns import zones
from playdeck.dns.models import Record, Zone, ZoneChange
from testing.dns_server import ThrowawayBind
from tests.conftest import free_port

ZONE = "example.test."
REVERSE_ZONE = "2.0.192.in-addr.arpa."


def make_zone(name: str = ZONE, **settings) -> str:
    """A forward zone served by its own ns1 (192.0.2.1), as most tests start with."""
    with db.session_scope() as session:
        zones.create_zone(
            session, name, mname="ns1", rname="hostmaster", glue={"ns1": ["192.0.2.1"]}, who="alice", **settings
        )
    return name


def make_reverse_zone(name: str = REVERSE_ZONE) -> str:
    with db.session_scope() as session:
        zones.create_zone(session, name, mname=f"ns1.{ZONE}", rname=f"hostmaster.{ZONE}", who="alice")
    return name


def zone_state(name: str = ZONE) -> dict:
    """Everything a refused change must leave as it was."""
    with db.session_scope() as session:
        zone = session.scalar(select(Zone).where(Zone.name == name))
        return {
            "change_seq": zone.change_seq,
            "record_count": zone.record_count,
            "records": sorted(
                session.execute(select(Record.name, Record.rtype, Record.ttl, Record.value, Record.version)).all()
            ),
            "history": session.scalar(select(func.count()).select_from(ZoneChange)),
        }


@pytest.fixture
def zone(embedded) -> str:
    return make_zone()


@pytest.fixture
def zone_on_mariadb(production) -> str:
    return make_zone()


@pytest.fixture
def bind_server(tmp_path: Path) -> Iterator[ThrowawayBind]:
    """A fresh BIND for this test (loopback, high ports, rndc key, allow-new-zones); its log on failure."""
    server = ThrowawayBind(tmp_path / "bind", free_port(), free_port())
    server.base.mkdir()
    try:
        yield server.start()
    finally:
        server.stop()
        # pytest shows a test's captured output only when it fails: named's log, for the post-mortem.
        print(f"named's log ({server.log}):\n{server.output()[-5000:]}")
