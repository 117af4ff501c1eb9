"""A cancel that arrives while the worker writes a batch of the run's events waits for that batch, where it
used to deadlock with it: the events' inserts took a shared lock on the run (their foreign key), the cancel
queued for an exclusive one, and the batch's own count update then could not upgrade (the cancel stress
test saw the cancel fail with MariaDB's "Deadlock found")."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import event, select, text

from playdeck import db
from playdeck.models import Run
from playdeck.runs.events import event_row, store_events
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.transitions import claim_run, request_cancel
from playdeck.settings import Settings
from tests.core.lock_waits import waiting_for_a_lock


def _connection_id(session: Any) -> int:
    return session.scalar(text("SELECT CONNECTION_ID()"))


def _events(count: int) -> list[dict[str, Any]]:
    return [
        {"counter": n, "event": "runner_on_ok", "uuid": f"u{n}", "stdout": f"line {n}", "event_data": {}}
        for n in range(1, count + 1)
    ]


def test_a_cancel_during_an_event_batch_waits_for_it(production: Settings) -> None:
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest("sampleapp", "staging")).id
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 1)
    canceler: list[int] = []
    failures: list[BaseException] = []

    def cancel() -> None:
        try:
            with db.session_scope() as session:
                canceler.append(_connection_id(session))
                request_cancel(session, run_id, "alice")
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)

    other = threading.Thread(target=cancel)

    def cancel_between_insert_and_count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Only the batch's own count update, once: by now its rows are inserted.
        if "event_count" not in statement or other.ident is not None:
            return
        other.start()
        deadline = time.monotonic() + 60
        while not (canceler and waiting_for_a_lock(canceler[0])):
            assert other.is_alive() and time.monotonic() < deadline, f"the cancel never waited: {failures}"
            time.sleep(0.05)

    engine = db.get_engine()
    event.listen(engine, "before_cursor_execute", cancel_between_insert_and_count)
    try:
        with db.session_scope() as session:
            assert store_events(session, run_id, [event_row(run_id, e) for e in _events(50)]) == 50
    finally:
        event.remove(engine, "before_cursor_execute", cancel_between_insert_and_count)
    other.join(timeout=60)

    assert failures == []
    with db.session_scope() as session:
        run = session.scalars(select(Run).where(Run.id == run_id)).one()
        assert run.event_count == 50
        assert run.cancel_requested_at is not None and run.canceled_by == "alice"
