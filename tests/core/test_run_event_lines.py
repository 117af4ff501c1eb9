"""The narrow copy of a run's events that log search and filters read (``run_event_lines``, and the
failures once more in ``run_event_failures``): written with the events, in their batch, never twice; what it
says of an event is what the event's row says. On SQLite and on MariaDB."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from sqlalchemy import delete, select, text

from playdeck import db
from playdeck.models import Environment, Project, Run, RunEvent, RunEventFailure, RunEventLine
from playdeck.runs.events import event_row, events_after, events_before, matching_counters, store_events
from playdeck.runs.log_filters import STATUS_EVENTS, LogFilter
from playdeck.settings import Settings


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest) -> Settings:
    return request.getfixturevalue(request.param)


def new_run() -> int:
    with db.session_scope() as session:
        project = session.scalar(select(Project).where(Project.name == "p")) or Project(
            name="p", playbook="x.yml", environments=[Environment(name="e", inventory="i.ini")]
        )
        run = Run(project=project, environment=project.environments[0], state="running")
        session.add(run)
        session.flush()
        return run.id


def event(counter: int, kind: str, host: str = "web1", res: Any = None, stdout: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {"host": host, "task": "t"} if host else {}
    if res is not None:
        data["res"] = res
    return {"counter": counter, "event": kind, "stdout": stdout or f"line {counter}", "event_data": data}


def narrow(table: type[RunEventLine] | type[RunEventFailure], run_id: int) -> list[tuple]:
    with db.session_scope() as session:
        rows = session.execute(
            select(table.counter, table.host, table.event, table.changed, table.stdout)
            .where(table.run_id == run_id)
            .order_by(table.counter)
        )
        return [tuple(row) for row in rows]


def test_each_event_is_written_narrow_and_each_failure_once_more(services: Settings) -> None:
    run_id = new_run()
    batch = [
        event(1, "playbook_on_start", host=""),
        event(2, "runner_on_ok", res={"changed": True}, stdout="\x1b[0;33mchanged: [web1]\x1b[0m"),
        event(3, "runner_item_on_failed", host="web2", res={"changed": False}),
        event(4, "runner_on_unreachable", host="web3"),
        event(5, "runner_on_failed", host="web2", stdout="fatal: [web2]: FAILED! => it's 100% 'quoted' \\ \n"),
    ]
    with db.session_scope() as session:
        assert store_events(session, run_id, [event_row(run_id, e) for e in batch]) == 5
    # A batch written again (a retry) and one new event: nothing twice.
    again = [event_row(run_id, e) for e in [*batch[3:], event(6, "runner_on_skipped", host="web2")]]
    with db.session_scope() as session:
        assert store_events(session, run_id, again) == 1

    lines = narrow(RunEventLine, run_id)
    assert lines == [
        (1, "", "playbook_on_start", False, "line 1"),
        (2, "web1", "runner_on_ok", True, "\x1b[0;33mchanged: [web1]\x1b[0m"),
        (3, "web2", "runner_item_on_failed", False, "line 3"),
        (4, "web3", "runner_on_unreachable", False, "line 4"),
        (5, "web2", "runner_on_failed", False, "fatal: [web2]: FAILED! => it's 100% 'quoted' \\ \n"),
        (6, "web2", "runner_on_skipped", False, "line 6"),
    ]
    assert narrow(RunEventFailure, run_id) == [line for line in lines if line[0] in (3, 4, 5)]


# ansible's res.changed in all its forms (and no res at all): only JSON's true is "changed".
RESULTS = [{"changed": True}, {"changed": False}, {"changed": "true"}, {"changed": 1}, {"changed": None},
           {"changed": [True]}, {}, [{"changed": True}], "changed", {"results": [{"changed": True}]}, None]  # fmt: skip


def test_changed_is_jsons_true_in_the_events_result(services: Settings) -> None:
    """For rows from ``event_row`` and rows built without it (read from their data). MariaDB's JSON
    comparison, which the filter used before, also took the string "true" for true; SQLite did not."""
    run_id = new_run()
    rows = [event_row(run_id, event(n, "runner_on_ok", res=res)) for n, res in enumerate(RESULTS, start=1)]
    by_hand = [dict(row, counter=row["counter"] + 100) for row in rows]
    for row in by_hand:
        del row["changed"]
    with db.session_scope() as session:
        store_events(session, run_id, rows + by_hand)
    changed = [counter for counter, _, _, flag, _ in narrow(RunEventLine, run_id) if flag]
    assert changed == [1, 101]


def test_the_first_failure_of_a_long_run_reads_its_failures_only(production: Settings) -> None:
    """MariaDB's row reads for "jump to the first failure" do not grow with the run: the failure filter
    reads run_event_failures (before, it read every event of the run to find the one failure at its end)."""
    run_id = new_run()
    rows = [event_row(run_id, event(n, "runner_on_ok", host=f"web{n % 3}")) for n in range(1, 3001)]
    rows[-3] = event_row(run_id, event(2998, "runner_on_failed", host="web1"))
    with db.session_scope() as session:
        store_events(session, run_id, rows)

    def rows_read(connection) -> int:
        status = connection.execute(text("SHOW SESSION STATUS LIKE 'Handler_read%'")).all()
        return sum(int(value) for _, value in status)

    failures = LogFilter(statuses=("failed", "unreachable"))
    with db.get_engine().connect() as connection:
        before = rows_read(connection)
        [first] = events_after(connection, run_id, 0, 1, log_filter=failures)
        read = rows_read(connection) - before
        assert first.counter == 2998 and first.host == "web1"
        with_host = events_after(connection, run_id, 0, 1, log_filter=LogFilter("web2", failures.statuses))
    assert read < 50, read
    assert with_host == []


def test_a_filtered_page_is_the_events_rows(services: Settings) -> None:
    """What a filtered page shows comes from run_events (the narrow copy only chooses the lines)."""
    run_id = new_run()
    rows = [event_row(run_id, event(n, "runner_on_ok", res={"changed": n % 2 == 0})) for n in range(1, 11)]
    with db.session_scope() as session:
        store_events(session, run_id, rows)
    changed = LogFilter(statuses=("changed",))
    with db.session_scope() as session:
        page = events_after(session, run_id, 2, 3, log_filter=changed)
        tail = events_after(session, run_id, 0, 1000, (RunEvent.counter, RunEvent.event_data_json), changed)
    assert [(row.counter, row.stdout, row.host, row.task) for row in page] == [
        (n, f"line {n}", "web1", "t") for n in (4, 6, 8)
    ]
    assert [json.loads(row.event_data_json)["res"] for row in tail] == [{"changed": True}] * 5


def test_a_deleted_runs_narrow_rows_go_with_it(services: Settings) -> None:
    """The foreign keys cascade, as run_events' do (purge deletes them explicitly, batch by batch)."""
    run_id, other = new_run(), new_run()
    for run in (run_id, other):
        rows = [event_row(run, event(1, "runner_on_failed")), event_row(run, event(2, "runner_on_ok"))]
        with db.session_scope() as session:
            store_events(session, run, rows)
    with db.session_scope() as session:
        session.execute(delete(Run).where(Run.id == run_id))
    with db.session_scope() as session:
        for table in (RunEvent, RunEventLine, RunEventFailure):
            assert set(session.scalars(select(table.run_id))) == {other}, table


KINDS = ["runner_on_ok", "runner_item_on_ok", "runner_on_failed", "runner_item_on_failed", "runner_on_unreachable",
         "runner_on_skipped", "verbose"]  # fmt: skip
WORDS = ["deploy", "NEEDLE", "needle", "50%", "a_b", "axb", "plain"]


def kept(line: tuple, log_filter: LogFilter) -> bool:
    """What a filter keeps, said in Python: the reference the SQL is held to."""
    counter, host, kind, changed, stdout = line
    if log_filter.host and host != log_filter.host:
        return False
    if log_filter.statuses and not any(
        kind in STATUS_EVENTS[status] and (status not in ("changed", "ok") or changed == (status == "changed"))
        for status in log_filter.statuses
    ):
        return False
    return not log_filter.text or log_filter.text.lower() in stdout.lower()


def stored_lines(run_id: int, count: int) -> list[tuple]:
    """``count`` events of mixed hosts, outcomes and texts (fixed by a seed), stored; their narrow values."""
    chance = random.Random(23)
    events = [
        event(n, chance.choice(KINDS), host=f"web{chance.randint(1, 3)}", res={"changed": chance.random() < 0.4},
              stdout=" ".join(chance.choices(WORDS, k=2)) + f" {n}")
        for n in range(1, count + 1)
    ]  # fmt: skip
    rows = [event_row(run_id, e) for e in events]
    with db.session_scope() as session:
        store_events(session, run_id, rows)
    return [(row["counter"], row["host"], row["event"], row["changed"], row["stdout"]) for row in rows]


def test_filters_keep_what_they_say_they_keep(services: Settings) -> None:
    """Every combination of host, statuses and text, paged forwards, backwards and counted, against the
    filters' meaning said in Python (``kept``)."""
    run_id = new_run()
    lines = stored_lines(run_id, 400)
    statuses = [(), ("failed",), ("failed", "unreachable"), ("unreachable",), ("changed",), ("ok", "skipped")]
    texts = [None, "needle", "50%", "a_b", "%", "nowhere"]
    with db.session_scope() as session:
        for log_filter in itertools.starmap(LogFilter, itertools.product([None, "web2"], statuses, texts)):
            expected = [line[0] for line in lines if kept(line, log_filter)]
            after = events_after(session, run_id, 0, 1000, log_filter=log_filter)
            before = events_before(session, run_id, 2**31 - 1, 7, log_filter=log_filter)
            start = expected[2] if len(expected) > 2 else 0
            counted = matching_counters(session, run_id, log_filter, 5, after=start)
            assert [row.counter for row in after] == expected, log_filter
            assert [row.counter for row in before] == expected[-7:], log_filter
            assert counted == [counter for counter in expected if counter > start][:5], log_filter
