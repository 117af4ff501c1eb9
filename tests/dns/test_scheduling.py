"""When a zone's regeneration run starts: a change commits together with its zone's run, a burst shares
one queued run, and a run queued while the zone regenerates is held until the spacing after that run's
start has passed (the reaper does not send it early, the run page says why it waits). The same runs
against a real worker and BIND: tests/dns/test_regeneration_e2e.py."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import select, update

from playdeck import db, reaper
from playdeck.dns import records, regeneration, scheduling, zones
from playdeck.models import Run, utcnow
from playdeck.runs import attention
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from playdeck.settings import get_settings
from tests.dns.conftest import REVERSE_ZONE, ZONE, make_reverse_zone


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest):
    """SQLite + filesystem broker, and MariaDB + Redis."""
    return request.getfixturevalue(request.param)


def new_zone(**settings) -> scheduling.Write:
    """A zone created as the API creates it: with its first regeneration run queued."""
    with scheduling.writing("alice") as write:
        zones.create_zone(
            write.session, ZONE, mname="ns1", rname="hostmaster", glue={"ns1": ["192.0.2.1"]}, who="alice", **settings
        )
    return write


def add(name: str, value: str) -> scheduling.Write:
    with scheduling.writing("alice") as write:
        records.create_record(write.session, ZONE, name=name, rtype="A", value=value, who="alice")
    return write


def queued() -> list[tuple[int, dt.datetime | None]]:
    with db.session_scope() as session:
        rows = session.scalars(select(Run).where(Run.state == "queued", Run.kind == "dns").order_by(Run.id))
        return [(run.id, run.not_before) for run in rows]


def start(run_id: int, started_ago: float = 0) -> dt.datetime:
    """Claim the run as a worker does and begin the zone's regeneration; when it started."""
    with db.session_scope() as session:
        assert claim_run(session, run_id, "dns-1", 4242)
        started = utcnow() - dt.timedelta(seconds=started_ago)
        session.execute(update(Run).where(Run.id == run_id).values(started_at=started))
    with db.session_scope() as session:
        regeneration.begin_run(session, ZONE, run_id=run_id)
    return started


def test_a_change_commits_with_its_run_and_a_burst_shares_it(services):
    with scheduling.writing("alice") as write:
        pass  # nothing changed: nothing queued
    assert write.scheduled == [] and queued() == []

    created = new_zone()
    ((run_id, not_before),) = queued()
    assert created.run_for(ZONE) == run_id and not_before is None  # the zone never ran: at once
    assert [add(f"h{i}", f"192.0.2.{20 + i}").run_for(ZONE) for i in range(5)] == [None] * 5
    assert len(queued()) == 1


def test_a_change_that_fails_queues_nothing(services):
    new_zone()
    with pytest.raises(Exception, match="already exists"):
        for _ in range(2):
            add("www", "192.0.2.10")
    ((run_id, _),) = queued()  # the zone's, which the first add joined; nothing for the refused one
    with db.session_scope() as session:
        assert session.get(Run, run_id).requested_by == "alice"


def test_a_change_during_a_regeneration_waits_for_the_spacing_after_its_start(services):
    spacing = dt.timedelta(seconds=get_settings().dns_regeneration_spacing_seconds)
    new_zone()
    ((first, _),) = queued()
    started = start(first, started_ago=0.5)

    run_id = add("www", "192.0.2.10").run_for(ZONE)
    ((held, not_before),) = queued()
    assert held == run_id and not_before == pytest.approx(started + spacing, abs=dt.timedelta(milliseconds=1))
    with db.session_scope() as session:
        why = attention.state_explanation(session, session.get(Run, held), now=started)
    assert why == (
        f"held for {math.ceil(spacing.total_seconds())} s more: runs of example.test start spaced out, so the "
        "changes arriving meanwhile share this one"
    )


def test_a_change_long_after_the_last_regeneration_starts_at_once(services):
    new_zone()
    ((first, _),) = queued()
    start(first, started_ago=60)
    with db.session_scope() as session:
        finish_run(session, first, RunState.SUCCESSFUL)
    add("www", "192.0.2.10")
    ((_, not_before),) = queued()
    assert not_before is None


def test_the_reaper_does_not_resend_a_held_run_before_its_time(services):
    new_zone()
    ((run_id, _),) = queued()
    long_ago = utcnow() - dt.timedelta(minutes=10)
    with db.session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(dispatched_at=long_ago, not_before=utcnow()))
    assert run_id not in reaper.reap().redispatched
    with db.session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(not_before=long_ago))
    assert run_id in reaper.reap().redispatched


def test_an_automatic_ptr_queues_its_reverse_zone_in_the_same_transaction(services):
    make_reverse_zone()
    created = new_zone(auto_ptr=True)  # its name server's address got a PTR already
    assert {run.zone for run in created.scheduled} == {ZONE, REVERSE_ZONE}
    with db.session_scope() as session:  # as if both runs had been
        session.execute(update(Run).values(state="successful"))
    write = add("www", "192.0.2.10")
    assert {run.zone for run in write.scheduled} == {ZONE, REVERSE_ZONE}
    assert {run_id for run_id, _ in queued()} == {run.run_id for run in write.scheduled}
