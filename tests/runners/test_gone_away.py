"""The "MySQL server has gone away" regression: a worker that idles past wait_timeout still runs deploys.

A throwaway MariaDB with ``wait_timeout=3`` closes every connection idle for 3 s. A worker that kept a
session (or a pooled connection without pre-ping) across the idle gap would fail its next run.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from playdeck import db, projects
from playdeck.runs.requests import RunRequest
from testing import fault_report
from tests.cli.cli_support import wait_until
from tests.conftest import configure_test_playbooks, queue_run, wait_for_state

WAIT_TIMEOUT = 3


CONNECTION_ID = text("SELECT CONNECTION_ID()")


def closed_by_the_server(url: str, ids: set[int]) -> None:
    """Wait until the server has closed the connections ``ids`` (idle past its wait_timeout), as its process
    list shows: on a busy machine its timer may fire later than a fixed sleep would allow."""
    watcher = db.make_engine(url)

    def gone() -> bool:
        with watcher.connect() as conn:
            return not ids & set(conn.scalars(text("SELECT ID FROM information_schema.PROCESSLIST")))

    try:
        wait_until(gone, 60, f"the server to close the idle connections {sorted(ids)}")
    finally:
        watcher.dispose()


@pytest.fixture
def short_lived_mariadb(throwaway_mariadb):
    return throwaway_mariadb(f"--wait-timeout={WAIT_TIMEOUT}")


def test_worker_idle_past_wait_timeout_runs_the_next_deploy(
    monkeypatch, tmp_path, short_lived_mariadb, redis_url, start_worker
):
    configure_test_playbooks(monkeypatch, tmp_path, short_lived_mariadb.url, redis_url)
    with db.session_scope() as session:
        projects.add_project(session, "marker", "marker.yml", {"dev": "local2.ini"})
    worker = start_worker(concurrency=1)
    request = RunRequest(project="marker", environment="dev")

    first = queue_run(request).id
    assert wait_for_state(first, {"successful", "failed", "error"}) == "successful"

    time.sleep(WAIT_TIMEOUT + 2)  # every connection the worker and this process pooled is now dead

    second = queue_run(request).id
    assert wait_for_state(second, {"successful", "failed", "error"}) == "successful"
    assert "gone away" not in worker.output()
    fault_report.record(5, [first, second])


def test_only_closed_sessions_with_pre_ping_survive_the_idle_gap(short_lived_mariadb):
    """The three behaviours the design rests on, shown side by side on a real server."""
    held_engine = db.make_engine(short_lived_mariadb.url, pool_pre_ping=False)
    no_ping_engine = db.make_engine(short_lived_mariadb.url, pool_pre_ping=False)
    playdeck_engine = db.make_engine(short_lived_mariadb.url)  # pre-ping on, as in production

    held = held_engine.connect()
    idle = {held.execute(CONNECTION_ID).scalar()}
    for engine in (no_ping_engine, playdeck_engine):
        with engine.connect() as conn:  # used, then returned to the pool
            idle.add(conn.execute(CONNECTION_ID).scalar())

    closed_by_the_server(short_lived_mariadb.url, idle)

    with pytest.raises(OperationalError, match="gone away|Lost connection"):
        held.execute(text("SELECT 1"))  # a session held across the gap
    with pytest.raises(OperationalError, match="gone away|Lost connection"):
        with no_ping_engine.connect() as conn:  # closed, but the pool hands back the dead connection
            conn.execute(text("SELECT 1"))
    with playdeck_engine.connect() as conn:  # closed + pre-ping: replaced transparently
        assert conn.execute(text("SELECT 1")).scalar() == 1
    for engine in (held_engine, no_ping_engine, playdeck_engine):
        engine.dispose()
