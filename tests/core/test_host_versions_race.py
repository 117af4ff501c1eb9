"""Two runs of one environment that end together (a project without deploy locks) both record the same
host's version: the second waits for the first's row and then changes it, where a read-then-insert failed
the second run with a duplicate key (seen as a run ended in ``error`` under load)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select, text

from playdeck import db
from playdeck.models import HostDeployment, Run
from playdeck.releases import host_versions
from playdeck.runs.requests import RunRequest, request_run
from playdeck.settings import Settings
from tests.core.lock_waits import waiting_for_a_lock


def test_two_runs_ending_together_both_record_the_same_host(production: Settings) -> None:
    with db.session_scope() as session:
        first_id, second_id = (request_run(session, RunRequest("sampleapp", "staging")).id for _ in range(2))
    second_connection: list[int] = []
    failures: list[BaseException] = []

    def second_run_ends() -> None:
        try:
            with db.session_scope() as session:
                second_connection.append(session.scalar(text("SELECT CONNECTION_ID()")))
                host_versions.record(session, session.get(Run, second_id), {"web1": ("2.0.0", None)})
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)

    with db.session_scope() as session:
        host_versions.record(session, session.get(Run, first_id), {"web1": ("1.0.0", None)})
        session.flush()
        other = threading.Thread(target=second_run_ends)
        other.start()
        deadline = time.monotonic() + 60
        # The second run's write waits on the first's uncommitted row: the moment the race is about.
        while not (second_connection and waiting_for_a_lock(second_connection[0])):
            assert other.is_alive() and time.monotonic() < deadline, f"the second write never waited: {failures}"
            time.sleep(0.05)
    other.join(timeout=60)

    assert failures == []
    with db.session_scope() as session:
        row = session.scalars(select(HostDeployment).where(HostDeployment.host == "web1")).one()
        assert (row.version, row.run_id) == ("2.0.0", second_id)
