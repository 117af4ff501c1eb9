"""No page or API endpoint does more SQL, or reads more rows at once, as runs and events accumulate:
each request below is made with little data and with a lot, and must send the same statements.

A statement count that grows with the data is an N+1 (a query per run, per event) or a page that
loads everything; at 100,000 runs and millions of events either one makes the UI unusable."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from playdeck import db
from playdeck.models import Environment, Project, Run
from playdeck.projects import SAMPLE_PROJECT
from playdeck.runs.events import MAX_EVENTS_PER_PAGE, event_row, store_events
from playdeck.settings import Settings
from tests.conftest import web_client
from tests.statements import recorded_statements
from tests.webui.webui_testing import HOST_STATS

URLS = [
    "/api/v1/runs",
    "/api/v1/runs?project=sampleapp&environment=staging&state=successful,failed",
    "/runs",
    "/runs?project=sampleapp&state=failed&requested_by=alice",
    "/",
    "/runs/{run}",
    "/api/v1/runs/{run}",
    "/api/v1/runs/{run}/events",
    "/api/v1/runs/{run}/events?after=5",
    "/api/v1/runs/{run}/events?host=web1&before=2147483647",
    "/api/v1/runs/{run}/events?status=failed,unreachable&limit=1",
]


def add_runs(count: int, events: int) -> int:
    """``count`` ended runs of the sample project, the newest with ``events`` events and host summaries."""
    with db.session_scope() as session:
        project_id, environment_id = session.execute(
            select(Project.id, Environment.id)
            .join(Environment, Environment.project_id == Project.id)
            .where(Project.name == SAMPLE_PROJECT, Environment.name == "staging")
        ).one()
        rows = [
            {"project_id": project_id, "environment_id": environment_id, "state": state, "requested_by": by,
             "event_count": 0}
            for i in range(count)
            for state, by in [(("successful", "failed")[i % 2], ("alice", "bob")[i % 3 % 2])]
        ]  # fmt: skip
        session.execute(insert(Run), rows)
        run_id = session.scalar(select(Run.id).order_by(Run.id.desc()).limit(1))
    with db.session_scope() as session:
        store_events(
            session,
            run_id,
            [event_row(run_id, {"counter": n, "stdout": f"line {n}", "event_data": {"host": "web1"}})
             for n in range(1, events + 1)],
        )  # fmt: skip
        from playdeck.runs.transitions import record_host_summaries

        record_host_summaries(session, run_id, HOST_STATS)
    return run_id


def statements_for(url: str) -> list[tuple[str, int]]:
    client = web_client()
    client.get(url)  # first request of an app: anything it loads once is not counted
    with recorded_statements() as statements:
        response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return statements


@pytest.mark.parametrize("url", URLS)
def test_statements_per_request_do_not_grow_with_the_data(services: Settings, url: str) -> None:
    run_id = add_runs(10, events=10)
    few = statements_for(url.format(run=run_id))
    run_id = add_runs(600, events=2 * MAX_EVENTS_PER_PAGE + 5)
    many = statements_for(url.format(run=run_id))
    assert [statement for statement, _ in many] == [statement for statement, _ in few]
    # A page of events (+1, the "is there more" probe) is the most rows any statement reads.
    assert max(rows for _, rows in many) <= MAX_EVENTS_PER_PAGE + 1


# Statements of the requests made most (issue 7: at 20 concurrent clients on 2 cores, a request has
# about 10 ms of CPU, and each statement is a round trip): the caller (credential and user in one),
# then what the page needs. An ended deploy's page also reads what its hosts run now (issue 23).
BUDGETS = {"/api/v1/runs": 2, "/api/v1/runs/{run}/events": 3, "/runs/{run}": 6, "/runs": 3}


@pytest.mark.parametrize("url", list(BUDGETS))
def test_frequent_requests_stay_within_their_statement_budget(services: Settings, url: str) -> None:
    run_id = add_runs(10, events=10)
    statements = statements_for(url.format(run=run_id))
    assert len(statements) <= BUDGETS[url], "\n".join(statement for statement, _ in statements)
