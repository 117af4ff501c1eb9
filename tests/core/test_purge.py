"""Purging old runs from the DB (playdeck.runs.purge.purge_runs): only ended runs older than the cutoff
go, each with its events (and their narrow copies) and host summaries, whatever the batch size; everything
else stays whole."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.models import Environment, Project, Run, RunEvent, RunEventFailure, RunEventLine, RunHostSummary, utcnow
from playdeck.runs.events import event_row, store_events
from playdeck.runs.purge import purge_expired, purge_runs
from playdeck.settings import Settings
from tests.cli.cli_support import playdeck
from tests.statements import recorded_statements

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
    # Every odd event a failure: run_event_failures holds them too.
    rows = [event_row(run_id, {"counter": n, "stdout": "x", "event": ("runner_on_ok", "runner_on_failed")[n % 2]})
            for n in range(1, events + 1)]  # fmt: skip
    with db.session_scope() as session:
        store_events(session, run_id, rows)
    return run_id


def narrow_rows() -> dict[int, tuple[int, int]]:
    """Run id → (run_event_lines, run_event_failures) rows, of the runs that have any."""
    with db.session_scope() as session:
        lines, failures = (
            dict(session.execute(select(table.run_id, func.count()).group_by(table.run_id)).all())
            for table in (RunEventLine, RunEventFailure)
        )
    return {run_id: (lines.get(run_id, 0), failures.get(run_id, 0)) for run_id in lines | failures}


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
    project = new_project()
    purged = [add_run(project, OLD, "successful", 3), add_run(project, OLD, "failed", 10),
              add_run(project, OLD, "canceled", 0), add_run(project, OLD, "successful", 2)]  # fmt: skip
    kept = {
        add_run(project, OLD, "running", 5): (5, 1),
        add_run(project, OLD, "queued", 0): (0, 1),
        add_run(project, NEW, "successful", 6): (6, 1),
    }
    assert set(narrow_rows()) == {run_id for run_id, (events, _) in remaining().items() if events}
    report = purge_runs(CUTOFF, batch_rows=batch_rows)
    assert remaining() == kept
    assert (report.runs, report.events) == (len(purged), 15)
    assert narrow_rows() == {run_id: (events, (events + 1) // 2) for run_id, (events, _) in kept.items() if events}


def test_a_large_runs_narrow_rows_go_in_batches_too(services: Settings) -> None:
    """A large run's narrow copies are deleted batch by batch with its events, not all at once by the
    foreign keys' cascade when its row goes."""
    add_run(new_project(), OLD, "successful", 10)
    with recorded_statements() as statements:
        purge_runs(CUTOFF, batch_rows=4)
    for table, rows in (("run_event_lines", 10), ("run_event_failures", 5)):
        deleted = [count for statement, count in statements if statement.startswith(f"DELETE FROM {table} ")]
        assert sum(deleted) == rows and max(deleted) <= 4, (table, deleted)
    assert narrow_rows() == {}


def new_project() -> Project:
    with db.session_scope() as session:
        project = Project(name="p", playbook="x.yml", environments=[Environment(name="e", inventory="i.ini")])
        session.add(project)
        session.flush()
        session.expunge_all()
    return project


def test_playdeck_db_purge_deletes_ended_runs_older_than_the_days_given(embedded: Settings) -> None:
    project = new_project()
    now = utcnow()
    old = add_run(project, now - dt.timedelta(days=40), "successful", 4)
    kept = {
        add_run(project, now - dt.timedelta(days=10), "failed", 2): (2, 1),
        add_run(project, now - dt.timedelta(days=40), "running", 3): (3, 1),
    }

    result = playdeck("db", "purge", "--older-than-days", "30")

    assert result.returncode == 0, result.stderr
    assert "Purged 1 runs and 4 events" in result.stdout
    assert old not in remaining() and remaining() == kept
    refused = playdeck("db", "purge", "--older-than-days", "0")
    assert refused.returncode == 2 and "older-than-days" in refused.stderr
    assert remaining() == kept


def test_the_retention_setting_purges_and_zero_keeps_everything(embedded: Settings, monkeypatch) -> None:
    project = new_project()
    now = utcnow()
    old = add_run(project, now - dt.timedelta(days=100), "successful", 2)
    recent = add_run(project, now - dt.timedelta(days=5), "successful", 2)

    assert purge_expired(embedded) is None  # 0, the default: every run is kept
    assert set(remaining()) == {old, recent}
    report = purge_expired(dataclasses.replace(embedded, run_retention_days=30))
    assert report is not None and report.runs == 1 and set(remaining()) == {recent}
