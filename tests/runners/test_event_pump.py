"""Event persistence: what ansible-runner hands the EventPump is stored once, byte for byte.

On MariaDB the batch INSERT is written by playdeck.runs.events itself (see its docstring), so the strings
here carry every character MySQL escapes, and the SQL and formatting characters a driver could
misread."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.models import Environment, Project, Run, RunEvent
from playdeck.runs import events
from playdeck.settings import Settings, get_settings
from runners.event_pump import EventPump

NASTY = "it's \"quoted\" \\ back\\slash \\' %s %(x)s {0} NUL\x00 CR\r LF\n SUB\x1a ; DROP TABLE runs; -- é ✓ 🚀"


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest) -> Settings:
    return request.getfixturevalue(request.param)


def running_run() -> int:
    with db.session_scope() as session:
        project = Project(name="pump", playbook="x.yml")
        run = Run(project=project, environment=Environment(project=project, name="e", inventory="i.ini"))
        run.state = "running"
        session.add(run)
        session.flush()
        return run.id


def ansible_event(counter: int, text: str = "") -> dict:
    return {
        "counter": counter,
        "uuid": f"uuid-{counter}",
        "event": "runner_on_ok",
        "stdout": f"{text} {counter}",
        "start_line": counter,
        "end_line": counter + 1,
        "created": "2026-11-27T10:14:42.257627+00:00",
        "event_data": {"host": f"h{text}", "task": f"t{text}", "play": text, "res": {"msg": text}},
    }


def stored(run_id: int) -> list[RunEvent]:
    with db.session_scope() as session:
        return list(session.scalars(select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.counter)))


def event_count(run_id: int) -> int:
    with db.session_scope() as session:
        return session.scalar(select(Run.event_count).where(Run.id == run_id))


def test_every_character_survives_the_round_trip(services: Settings) -> None:
    run_id = running_run()
    with db.session_scope() as session:
        assert events.store_events(session, run_id, [events.event_row(run_id, ansible_event(1, NASTY))]) == 1
    [event] = stored(run_id)
    assert (event.stdout, event.host, event.task, event.play) == (f"{NASTY} 1", f"h{NASTY}", f"t{NASTY}", NASTY)
    assert event.event_data["res"] == {"msg": NASTY}
    assert event.created.isoformat() == "2026-11-27T10:14:42.257627"
    assert (event.uuid, event.start_line, event.end_line) == ("uuid-1", 1, 2)


def test_a_batch_written_twice_is_stored_once(services: Settings) -> None:
    run_id = running_run()
    rows = [events.event_row(run_id, ansible_event(n, "x")) for n in range(1, 6)]
    with db.session_scope() as session:
        assert events.store_events(session, run_id, rows[:3]) == 3
    with db.session_scope() as session:
        assert events.store_events(session, run_id, rows) == 2  # a retry that overlaps the last batch
    assert [e.counter for e in stored(run_id)] == [1, 2, 3, 4, 5]
    assert event_count(run_id) == 5


def test_a_batch_larger_than_one_statement_is_split(production: Settings, monkeypatch) -> None:
    monkeypatch.setattr(events, "MAX_STATEMENT_CHARS", 2000)
    run_id = running_run()
    with db.session_scope() as session:
        assert events.store_events(session, run_id, [events.event_row(run_id, ansible_event(n, NASTY)) for n in
                                                     range(1, 41)]) == 40  # fmt: skip
    assert [e.counter for e in stored(run_id)] == list(range(1, 41))


def test_the_pump_stores_every_event_once(services: Settings) -> None:
    run_id = running_run()
    pump = EventPump(run_id, get_settings())
    pump.start()
    total = 2 * get_settings().event_batch_size + 7  # several full batches and a partial one
    for counter in range(1, total + 1):
        pump.put(ansible_event(counter, "p"))
    pump.put({"event": "keepalive"})
    pump.close()
    with db.session_scope() as session:
        count, distinct = session.execute(
            select(func.count(), func.count(func.distinct(RunEvent.counter))).where(RunEvent.run_id == run_id)
        ).one()
    assert (count, distinct, event_count(run_id), pump.persisted) == (total, total, total, total)
