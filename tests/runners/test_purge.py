"""Purging old runs from the DB (runners.retention.purge_runs): only ended runs older than the cutoff
go, each with its events and host summaries, whatever the batch size; everything else stays whole."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.events import event_row, store_events
from playdeck.models import Environment, Project, Run, RunEvent, RunHostSummary
from playdeck.settings import Settings
from runners.retention import purge_runs

CUTOFF = dt.datetime(2026, 6, 1)
OLD, NEW = CUTOFF - dt.timedelta(days=1), CUTOFF + dt.timedelta(days=1)


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest) -> Settings:
    return request.getfixturevalue(request.param)


def add_run(project: Project, queued_at: dt.datetime, state: str, events: int) -> int:
    with db.session_scope() as session:
        project = session.merge(project)
        run = Run(project=project, environment=project.environments[0], state=state, queued_at=queued_at)
        session.add(run)
        session.flush()
        run_id = run.id
        session.add(RunHostSummary(run_id=run_id, host="h1", ok=1))
    with db.session_scope() as session:
        store_events(session, run_id, [event_row(run_id, {"counter": n, "stdout": "x"}) for n in range(1, events + 1)])
    return run_id


def remaining() -> dict[int, tuple[int, int]]:
    """Run id → (events, host summaries) of every run left."""
    with db.session_scope() as session:
        events = dict(session.execute(select(RunEvent.run_id, func.count()).group_by(RunEvent.run_id)).all())
        summaries = dict(
            session.execute(select(RunHostSummary.run_id, func.count()).group_by(RunHostSummary.run_id)).all()
        )
        return {run_id: (events.get(run_id, 0), summaries.get(run_id, 0)) for run_id in session.scalars(select(Run.id))}


@pytest.mark.parametrize("batch_rows", [1, 4, 1000])
def test_only_old_ended_runs_are_purged_with_their_rows(services: Settings, batch_rows: int) -> None:
    with db.session_scope() as session:
        project = Project(name="p", playbook="x.yml", environments=[Environment(name="e", inventory="i.ini")])
        session.add(project)
        session.flush()
        session.expunge_all()
    purged = [add_run(project, OLD, "successful", 3), add_run(project, OLD, "failed", 10),
              add_run(project, OLD, "canceled", 0), add_run(project, OLD, "successful", 2)]  # fmt: skip
    kept = {
        add_run(project, OLD, "running", 5): (5, 1),
        add_run(project, OLD, "queued", 0): (0, 1),
        add_run(project, NEW, "successful", 6): (6, 1),
    }
    report = purge_runs(CUTOFF, batch_rows=batch_rows)
    assert remaining() == kept
    assert (report.runs, report.events) == (len(purged), 15)
