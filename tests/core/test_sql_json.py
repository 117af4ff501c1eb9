"""JSON rendered by the database (playdeck.sql_json) is what the Python serializers write, on SQLite and
MariaDB alike: lists of runs and pages of log lines are served from the database's rendering."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import update

from playdeck import db
from playdeck.models import Run, RunEvent
from playdeck.runs import events
from playdeck.runs.queries import RunFilters, get_run, list_runs
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from playdeck.serializers import event_json, event_log_sql, run_json
from playdeck.settings import Settings
from tests.conftest import free_extra_vars

# Text a naive rendering would break: quotes, backslashes, control characters, non-ASCII, an emoji.
AWKWARD = 'say "hi" \\ path\\n\ttab\x01\x1f é ü 中文 😀 </script> \u2028'


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest) -> Settings:
    return request.getfixturevalue(request.param)


def make_runs() -> list[int]:
    """Runs in every shape a list shows: queued, running, ended; with and without microseconds, extra
    vars, tags, check mode, a cancel, awkward text."""
    made = []
    free_extra_vars()
    with db.session_scope() as session:
        queued = request_run(session, RunRequest("sampleapp", "staging", requested_by="alice")).id
        ended = request_run(
            session,
            RunRequest(
                "sampleapp",
                "production",
                version="2.0.1",
                extra_vars={"greeting": AWKWARD, "nested": {"list": [1, 2.5, None, True]}},
                tags=["web", "db"],
                limit="web1",
                check=True,
            ),
        ).id
        running = request_run(session, RunRequest("sampleapp", "staging")).id
        made += [queued, ended, running]
    for run_id in (ended, running):
        with db.session_scope() as session:
            assert claim_run(session, run_id, "worker-é", 4242)
    with db.session_scope() as session:
        assert finish_run(session, ended, RunState.FAILED, rc=2, reason=AWKWARD)
        # Whole seconds on one timestamp, microseconds on the others: iso() writes them differently.
        session.execute(
            update(Run)
            .where(Run.id == ended)
            .values(
                started_at=dt.datetime(2026, 3, 1, 10, 0, 0),
                finished_at=dt.datetime(2026, 3, 1, 10, 1, 29, 123456),
                cancel_requested_at=dt.datetime(2026, 3, 1, 10, 1, 0, 1),
                canceled_by="bob",
            )
        )
    return made


def listed() -> dict[int, dict]:
    with db.session_scope() as session:
        page = list_runs(session, RunFilters(), per_page=50)
    return {row["id"]: row for row in map(json.loads, page.runs)}


def serialized(run_id: int) -> dict:
    with db.session_scope() as session:
        return run_json(get_run(session, run_id), with_summaries=False)


def test_a_listed_run_is_what_run_json_writes(services: Settings) -> None:
    queued, ended, running = make_runs()
    from_db = listed()

    for run_id in (queued, ended):
        assert from_db[run_id] == serialized(run_id)
    assert from_db[ended]["duration_seconds"] == 89.123456
    assert from_db[ended]["finished_at"] == "2026-03-01T10:01:29.123456+00:00"
    assert from_db[ended]["started_at"] == "2026-03-01T10:00:00+00:00"
    assert from_db[ended]["check"] is True and from_db[queued]["check"] is False
    assert from_db[ended]["terminal"] is True and from_db[running]["terminal"] is False
    assert from_db[ended]["reason"] == AWKWARD
    assert from_db[ended]["extra_vars"]["greeting"] == AWKWARD

    # A running run's duration is counted to the database's clock, the serializer's to this host's.
    live, expected = from_db[running], serialized(running)
    assert live.pop("duration_seconds") == pytest.approx(expected.pop("duration_seconds"), abs=5)
    assert live == expected


def test_a_page_of_log_lines_is_what_event_json_writes(services: Settings) -> None:
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest("sampleapp", "staging")).id
    stored = [
        {"counter": 1, "uuid": "u-1", "event": "playbook_on_start", "created": "2026-03-01T10:00:00+00:00"},
        {
            "counter": 2,
            "uuid": "u-2",
            "event": "runner_on_ok",
            "stdout": AWKWARD + "\r\n\x1b[0;32mok: [web1]\x1b[0m",
            "start_line": 3,
            "end_line": 5,
            "created": "2026-03-01T10:00:01.000042",
            "event_data": {"host": "web-é", "task": AWKWARD, "play": "Deploy"},
        },
        {"counter": 3, "uuid": "", "event": "verbose", "stdout": "", "created": "not a time"},
    ]
    with db.session_scope() as session:
        events.store_events(session, run_id, [events.event_row(run_id, event) for event in stored])

    with db.session_scope() as session:
        rows = events.events_after(session, run_id)
        rendered = events.events_after(session, run_id, columns=(RunEvent.counter, event_log_sql()))
    assert [json.loads(text) for _, text in rendered] == [event_json(row) for row in rows]
    by_counter = {counter: json.loads(text) for counter, text in rendered}
    assert by_counter[1]["created"] == "2026-03-01T10:00:00+00:00"
    assert by_counter[2]["created"] == "2026-03-01T10:00:01.000042+00:00"
    assert by_counter[2]["stdout"].startswith(AWKWARD)
    assert by_counter[3]["created"] is None
