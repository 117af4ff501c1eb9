"""A deleted zone gets a run like a changed one: scheduled, coalesced, re-scheduled by the reaper; the run
decides when it starts whether it regenerates or removes, and a removal purges the zone's rows.
(Against a real BIND and worker: tests/dns/test_regeneration_e2e.py.)"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from playdeck import db
from playdeck.dns import regeneration, scheduling, zones
from playdeck.dns.models import Record, RRset, Zone, ZoneChange
from playdeck.errors import Conflict
from playdeck.models import Environment, Run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from tests.conftest import web_client
from tests.dns.conftest import ZONE, make_zone
from tests.dns.test_records import create


def delete_zone(zone: str = ZONE) -> None:
    with db.session_scope() as session:
        zones.delete_zone(session, zone, who="alice")


def schedule(zone: str = ZONE) -> int | None:
    with db.session_scope() as session:
        scheduled = scheduling.schedule(session, zone)
    return None if scheduled is None else scheduled.run_id


def end_run(run_id: int, state: RunState = RunState.SUCCESSFUL, finished_ago: float = 0) -> None:
    with db.session_scope() as session:
        assert claim_run(session, run_id, "test", 1)
    with db.session_scope() as session:
        assert finish_run(session, run_id, state)
        if finished_ago:
            finished = session.get(Run, run_id).finished_at - dt.timedelta(seconds=finished_ago)
            session.execute(update(Run).where(Run.id == run_id).values(finished_at=finished))


def begin(run_id: int | None = None, zone: str = ZONE) -> regeneration.Regeneration | regeneration.Removal:
    with db.session_scope() as session:
        return regeneration.begin_run(session, zone, run_id=run_id)


def finish_removal(zone: str = ZONE, **outcome) -> None:
    with db.session_scope() as session:
        regeneration.finish_removal(session, zone, **outcome)


def rows() -> dict[str, int]:
    with db.session_scope() as session:
        return {
            table.__tablename__: session.scalar(select(func.count()).select_from(table))
            for table in (Zone, RRset, Record)
        }


def dns_runs() -> list[tuple[int, str, str]]:
    with db.session_scope() as session:
        return session.execute(select(Run.id, Environment.name, Run.state).join(Environment).order_by(Run.id)).all()


def test_a_deleted_zone_gets_a_run_in_its_environment(zone):
    first = schedule()
    delete_zone()
    assert schedule() is None  # the queued run (still to start) removes the zone instead
    end_run(first)
    removal = schedule()
    assert removal is not None and schedule() is None
    assert dns_runs() == [(first, "example.test", "successful"), (removal, "example.test", "queued")]


def test_the_run_decides_as_it_starts(zone):
    run_id = schedule()
    assert isinstance(begin(), regeneration.Regeneration)
    delete_zone()
    assert begin(run_id) == regeneration.Removal(ZONE)
    with db.session_scope() as session:
        assert session.scalar(select(Zone.last_run_id)) == run_id
    finish_removal(run_id=run_id)
    assert rows() == {"dns_zones": 0, "dns_rrsets": 0, "dns_records": 0}
    assert begin() == regeneration.Removal(ZONE)  # nothing left: BIND must not serve it either
    finish_removal()  # and there is nothing to purge


def test_a_removal_purges_the_zone_and_keeps_its_history(zone):
    create("www", "A", "192.0.2.10")
    delete_zone()
    with pytest.raises(Conflict, match="still being removed"):
        make_zone()
    finish_removal(error="rndc: connect failed: 127.0.0.1#953: connection refused", run_id=None)
    with db.session_scope() as session:
        (kept,) = regeneration.deleted_zones(session)
        assert "connection refused" in kept.last_error
    finish_removal()
    assert rows() == {"dns_zones": 0, "dns_rrsets": 0, "dns_records": 0}
    with db.session_scope() as session:
        history = session.execute(select(ZoneChange.zone_name, ZoneChange.zone_id, ZoneChange.action)).all()
    assert {action for *_, action in history} >= {"zone-create", "create", "zone-delete"}
    assert {(name, zone_id) for name, zone_id, _ in history} == {(ZONE, None)}


def test_a_zone_created_again_after_its_removal_is_a_new_zone(zone):
    create("www", "A", "192.0.2.10")
    delete_zone()
    finish_removal()
    make_zone()
    with db.session_scope() as session:
        again = zones.get_zone(session, ZONE)
        assert again.record_count == 2 and again.dirty and again.served_serial is None
    assert isinstance(begin(), regeneration.Regeneration)
    # A removal run that was queued before the zone came back finds it live: it does not purge it.
    finish_removal()
    assert rows()["dns_zones"] == 1


def test_the_reaper_queues_removals_and_retries_a_failed_one_later(zone):
    first = schedule()
    end_run(first)
    delete_zone()
    # The delete's own request for a run was lost.
    (removal,) = scheduling.schedule_dirty()
    assert scheduling.schedule_dirty() == []  # queued: nothing more
    begin(removal)
    end_run(removal, RunState.FAILED)
    finish_removal(run_id=removal, error="rndc: connection refused")
    assert scheduling.schedule_dirty() == []  # just failed: not every reaper pass
    with db.session_scope() as session:
        finished = session.get(Run, removal).finished_at - dt.timedelta(seconds=scheduling.REMOVAL_RETRY_SECONDS)
        session.execute(update(Run).where(Run.id == removal).values(finished_at=finished))
    (retry,) = scheduling.schedule_dirty()
    assert retry not in (first, removal)


def test_a_failed_regeneration_of_a_live_zone_still_waits_for_a_change(zone):
    first = schedule()
    end_run(first, RunState.FAILED, finished_ago=scheduling.REMOVAL_RETRY_SECONDS + 60)
    with db.session_scope() as session:
        regeneration.finish_regeneration(session, ZONE, change_seq=1, run_id=first, error="named-checkzone: bad")
    assert scheduling.schedule_dirty() == []


def test_long_zone_names_keep_their_environment_when_created_again(embedded):
    name = ".".join(["a" * 60, "b" * 60, "test"]) + "."
    make_zone(name)
    with db.session_scope() as session:
        environment = scheduling.environment_name(zones.get_zone(session, name))
    assert len(environment) <= scheduling.ENVIRONMENT_NAME_LENGTH and environment.startswith("a" * 60)
    other = Zone(name=name.replace("b" * 60, "c" * 60), id=1)
    assert scheduling.environment_name(other) != environment
    delete_zone(name)
    finish_removal(name)
    make_zone(name)
    with db.session_scope() as session:
        assert scheduling.environment_name(zones.get_zone(session, name)) == environment


def test_the_api_delete_queues_the_removal(zone):
    client = web_client()
    end_run(schedule())  # the zone's creation is served
    version = client.get(f"/api/v1/zones/{ZONE}").json["version"]
    deleted = client.delete(f"/api/v1/zones/{ZONE}", headers={"If-Match": f'"{version}"'})
    assert deleted.status_code == 202
    run_id = deleted.json["regeneration_run_id"]
    assert run_id is not None
    assert dns_runs()[-1] == (run_id, "example.test", "queued")
    # What the run does with it (against BIND: test_regeneration_e2e.py); then the name is free again.
    recreate = {"name": ZONE, "mname": "ns1", "rname": "hostmaster", "glue": {"ns1": ["192.0.2.1"]}}
    assert client.post("/api/v1/zones", json=recreate).status_code == 409
    assert begin(run_id) == regeneration.Removal(ZONE)
    finish_removal(run_id=run_id)
    assert client.get(f"/api/v1/zones/{ZONE}").status_code == 404
    history = client.get(f"/api/v1/zones/{ZONE}/history")
    assert history.status_code == 200 and history.json["changes"][0]["action"] == "zone-delete"
    again = client.post("/api/v1/zones", json=recreate)
    # The removal's run, still queued here, covers the new zone: when it starts it regenerates it.
    assert again.status_code == 201 and again.json["regeneration_run_id"] is None
    assert isinstance(begin(run_id), regeneration.Regeneration)
