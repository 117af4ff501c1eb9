"""The reaper's "running longer than usual" duty, on MariaDB: a deploy past the median of its environment's
recent successful deploys × the factor is noticed once, even by two reapers' passes at the same moment."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select, update

from playdeck import db
from playdeck.models import Project, Run, WebhookDelivery, utcnow
from playdeck.notifications import destinations, running_long, subscriptions
from playdeck.notifications.models import RunNotice
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from playdeck.settings import get_settings
from tests.conftest import configure


def deploy(environment: str = "staging") -> int:
    request = RunRequest(project="sampleapp", environment=environment, version="1.0.0", requested_by="alice")
    with db.session_scope() as session:
        run_id = request_run(session, request).id
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 1)
    return run_id


def took(run_id: int, seconds: float, ended: RunState | None = RunState.SUCCESSFUL) -> None:
    """The run started ``seconds`` ago (and, with ``ended``, ended now in that state)."""
    if ended is not None:
        with db.session_scope() as session:
            assert finish_run(session, run_id, ended)
    with db.session_scope() as session:
        now = utcnow()
        values = {"started_at": now - dt.timedelta(seconds=seconds)}
        if ended is not None:
            values["finished_at"] = now
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def running_long_deliveries() -> list[int | None]:
    with db.session_scope() as session:
        return list(session.scalars(select(WebhookDelivery.run_id).where(WebhookDelivery.event == "running_long")))


def test_a_deploy_past_the_usual_is_noticed_once_under_two_concurrent_passes(monkeypatch, tmp_path, mariadb_url):
    configure(monkeypatch, data_dir=str(tmp_path / "data"), database_url=mariadb_url, running_long_factor="2",
              running_long_runs="3")  # fmt: skip
    with db.session_scope() as session:
        # Two deploys of an environment running side by side: one slow, one not yet.
        session.execute(update(Project).where(Project.name == "sampleapp").values(lock_deploys=False))
        destinations.create(session, "ops", "json", url="https://hooks.example.test/x", secret="", who="tests")
        subscriptions.create(session, "ops", {"events": ["running_long"]}, who="tests")
    # Usual: the median of the last 3 successful deploys (an older slow one and a failure do not count).
    for seconds, state in ((900, RunState.SUCCESSFUL), (50, RunState.SUCCESSFUL), (60, RunState.SUCCESSFUL),
                           (400, RunState.FAILED), (70, RunState.SUCCESSFUL)):  # fmt: skip
        took(deploy(), seconds, state)
    slow = deploy()
    took(slow, 150, ended=None)  # 150 s > 2 × 60 s
    within = deploy()
    took(within, 100, ended=None)  # 100 s < 120 s
    unknown = deploy("production")  # no successful production deploy yet: no usual to compare with
    took(unknown, 10_000, ended=None)

    both_looked = threading.Barrier(2, timeout=30)
    looked = running_long._overdue

    def look_then_wait(settings, now):
        found = looked(settings, now)
        both_looked.wait()  # both passes saw the run un-noticed before either records it
        return found

    monkeypatch.setattr(running_long, "_overdue", look_then_wait)
    results: list[list[int]] = []

    def one_pass() -> None:
        results.append(running_long.notice_long_runs(get_settings()))

    passes = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in passes:
        thread.start()
    for thread in passes:
        thread.join(60)

    assert sorted(results) == [[], [slow]]
    assert running_long_deliveries() == [slow]
    monkeypatch.setattr(running_long, "_overdue", looked)
    assert running_long.notice_long_runs(get_settings()) == []  # noticed once, ever
    with db.session_scope() as session:
        assert session.scalars(select(RunNotice.run_id)).all() == [slow]
