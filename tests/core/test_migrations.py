"""Alembic migrations build exactly the models' schema, on SQLite and MariaDB, and downgrade cleanly."""

from __future__ import annotations

import json

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from playdeck import db, migrate
from playdeck.models import Base
from tests.conftest import configure


def schema_drift() -> list:
    with db.get_engine().connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_migrations_match_the_models_and_round_trip(backend, monkeypatch, tmp_path, request):
    url = request.getfixturevalue("mariadb_url") if backend == "mariadb" else f"sqlite:///{tmp_path}/m.db"
    configure(monkeypatch, seed_sample=False, data_dir=str(tmp_path / "data"), database_url=url)
    assert schema_drift() == []
    command.downgrade(migrate.alembic_config(), "base")
    migrate.upgrade()
    assert schema_drift() == []


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_events_stored_before_the_rekeying_of_run_events_survive_it(backend, monkeypatch, tmp_path, request):
    """0013 rebuilds run_events around (run_id, counter): every stored line is still there, in order,
    and a batch written twice still stores each event once."""
    from sqlalchemy import text

    from playdeck.runs.events import events_after, store_events

    url = request.getfixturevalue("mariadb_url") if backend == "mariadb" else f"sqlite:///{tmp_path}/m.db"
    configure(monkeypatch, seed_sample=False, data_dir=str(tmp_path / "data"), database_url=url)
    command.downgrade(migrate.alembic_config(), "0012")
    with db.get_engine().begin() as connection:

        def insert(table: str, **values: object) -> None:
            names = ", ".join(values)
            connection.execute(text(f"INSERT INTO {table} ({names}) VALUES (:{', :'.join(values)})"), values)

        insert("projects", id=1, name="app", description="", playbook="site.yml", created_at="2026-01-01",
               run_timeout_seconds=60, idle_timeout_seconds=60, lock_deploys=1, supersede_queued=0,
               retry_lost_runs=0)  # fmt: skip
        insert("environments", id=1, project_id=1, name="prod", inventory="hosts.ini", protected=0)
        insert("runs", id=1, kind="deploy", project_id=1, environment_id=1, version="", extra_vars_json="{}",
               host_limit="", tags_json="[]", check_mode=0, requested_by="ann", queue="deploy", state="running",
               reason="", queued_at="2026-01-01", attempt=1, event_count=0, retry_number=0)  # fmt: skip
        for counter in (3, 1, 2):  # stored out of order, as a retried batch can be
            insert("run_events", run_id=1, counter=counter, uuid="", event="verbose", host="", task="", play="",
                   stdout=f"line {counter}", start_line=0, end_line=1, event_data_json="{}")  # fmt: skip
    db.reset_engine()
    migrate.upgrade()

    with db.session_scope() as session:
        assert [row.stdout for row in events_after(session, 1)] == ["line 1", "line 2", "line 3"]
        again = [{"run_id": 1, "counter": c, "uuid": "", "event": "verbose", "host": "", "task": "", "play": "",
                  "stdout": f"line {c}", "start_line": 0, "end_line": 1, "created": None,
                  "event_data_json": "{}"} for c in (3, 4)]  # fmt: skip
        assert store_events(session, 1, again) == 1
    with db.session_scope() as session:
        assert [row.counter for row in events_after(session, 1)] == [1, 2, 3, 4]


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_events_stored_before_0033_are_copied_to_the_narrow_tables(backend, monkeypatch, tmp_path, request):
    """0033 fills run_event_lines (and run_event_failures with the failures) from run_events, a window of
    counters at a time: every event once, ``changed`` as ingestion writes it; old runs are then searched and
    filtered as new ones."""
    from sqlalchemy import select, text

    from playdeck.models import RunEventFailure, RunEventLine
    from playdeck.runs.events import events_after
    from playdeck.runs.log_filters import LogFilter, changed
    from playdeck.runs.log_search import search

    url = request.getfixturevalue("mariadb_url") if backend == "mariadb" else f"sqlite:///{tmp_path}/m.db"
    configure(monkeypatch, seed_sample=False, data_dir=str(tmp_path / "data"), database_url=url)
    command.downgrade(migrate.alembic_config(), "0032")
    results = [{"changed": True}, {"changed": False}, {"changed": "TRUE"}, {"changed": 1}, {}, [True], "x", None]
    # Counters beyond one window (20,000) and far apart, as a long run's are.
    events = [(1, n, "runner_on_ok", {"host": "web1", "res": res}) for n, res in enumerate(results, start=1)]
    events += [(1, 20_001, "runner_on_failed", {"host": "web2"}), (1, 45_000, "runner_on_unreachable", {}),
               (1, 45_001, "runner_item_on_failed", {"host": "web2"}), (2, 7, "verbose", {})]  # fmt: skip
    with db.get_engine().begin() as connection:
        connection.execute(
            text("INSERT INTO projects (id, name, description, playbook, created_at, run_timeout_seconds, "
                 "idle_timeout_seconds, lock_deploys, supersede_queued, retry_lost_runs, allow_free_extra_vars) "
                 "VALUES (1, 'app', '', 'site.yml', '2026-01-01', 60, 60, 1, 0, 0, 0)")
        )  # fmt: skip
        connection.execute(text("INSERT INTO environments (id, project_id, name, inventory, protected) "
                                "VALUES (1, 1, 'prod', 'hosts.ini', 0)"))  # fmt: skip
        for run_id in (1, 2):
            connection.execute(
                text("INSERT INTO runs (id, kind, project_id, environment_id, version, extra_vars_json, host_limit, "
                     "tags_json, check_mode, requested_by, queue, state, reason, queued_at, attempt, event_count, "
                     "retry_number) VALUES (:id, 'deploy', 1, 1, '', '{}', '', '[]', 0, 'ann', 'deploy', 'failed', '', "
                     "'2026-01-01', 1, 0, 0)"),
                {"id": run_id},
            )  # fmt: skip
        for run_id, counter, event, data in events:
            connection.execute(
                text("INSERT INTO run_events (run_id, counter, uuid, event, host, task, play, stdout, start_line, "
                     "end_line, event_data_json) VALUES (:run_id, :counter, '', :event, :host, '', '', :stdout, 0, 1, "
                     ":data)"),
                {"run_id": run_id, "counter": counter, "event": event, "host": data.get("host", ""),
                 "stdout": f"run {run_id} line {counter}", "data": json.dumps(data)},
            )  # fmt: skip
    db.reset_engine()
    migrate.upgrade()

    with db.session_scope() as session:
        lines = session.execute(
            select(RunEventLine.run_id, RunEventLine.counter, RunEventLine.host, RunEventLine.event,
                   RunEventLine.changed, RunEventLine.stdout).order_by(RunEventLine.run_id, RunEventLine.counter)
        ).all()  # fmt: skip
        failures = session.execute(select(RunEventFailure.run_id, RunEventFailure.counter)).all()
        hits = search(session, 1, LogFilter(text="LINE 45"))
        first_failure = events_after(session, 1, 0, 1, log_filter=LogFilter(host="web2", statuses=("failed",)))
    assert [tuple(line) for line in lines] == [
        (run_id, counter, data.get("host", ""), event, changed(data), f"run {run_id} line {counter}")
        for run_id, counter, event, data in events
    ]
    assert [line.counter for line in lines if line.changed] == [1]
    assert sorted(tuple(failure) for failure in failures) == [(1, 20_001), (1, 45_000), (1, 45_001)]
    assert [hit["counter"] for hit in hits.hits] == [45_000, 45_001]
    assert [row.counter for row in first_failure] == [20_001]


def test_receivers_answers_recorded_before_0017_keep_only_their_status_line(monkeypatch, tmp_path):
    from sqlalchemy import text

    from playdeck.models import WebhookDelivery

    configure(monkeypatch, data_dir=str(tmp_path / "data"), database_url=f"sqlite:///{tmp_path}/m.db")
    command.downgrade(migrate.alembic_config(), "0016")
    attempts = [
        {"at": "2026-01-01T00:00:00+00:00", "status_code": 500, "error": "HTTP 500: root:x:0:0:secret"},
        {"at": "2026-01-01T00:00:10+00:00", "status_code": None, "error": "ConnectionError posting to http://x"},
    ]
    with db.get_engine().begin() as connection:
        connection.execute(
            text("INSERT INTO webhooks (id, project_id, url, format, events, secret_ciphertext, active, created_at, "
                 "created_by) VALUES (1, 1, 'http://x/', 'json', 'failed', '', 1, '2026-01-01', 'ann')")
        )  # fmt: skip
        connection.execute(
            text("INSERT INTO webhook_deliveries (id, webhook_id, event, payload, state, attempts, last_status_code, "
                 "last_error, attempts_json, created_at) VALUES (1, 1, 'failed', '{}', 'failed', 2, 403, "
                 ":error, :attempts, '2026-01-01')"),
            {"error": "HTTP 403: internal\nanswer (gave up after 2 attempts)", "attempts": json.dumps(attempts)},
        )  # fmt: skip
    db.reset_engine()
    migrate.upgrade()
    with db.session_scope() as session:
        delivery = session.get(WebhookDelivery, 1)
        assert delivery.last_error == "HTTP 403 (gave up after 2 attempts)"
        assert [attempt["error"] for attempt in delivery.attempt_log] == [
            "HTTP 500",
            "ConnectionError posting to http://x",
        ]


def test_the_sqlite_rebuild_for_never_reused_ids_keeps_every_row(monkeypatch, tmp_path):
    """0026 rebuilds tables on SQLite; a zone's records (tied by cascading foreign keys) all survive it both
    ways, and afterwards the id of a deleted newest record is not handed out again."""
    from sqlalchemy import func, select

    from playdeck.dns import records
    from playdeck.dns.models import Record, ZoneChange
    from tests.dns.conftest import ZONE, make_zone

    configure(monkeypatch, data_dir=str(tmp_path / "data"), database_url=f"sqlite:///{tmp_path}/m.db")
    make_zone()
    with db.session_scope() as session:
        newest = records.create_record(session, ZONE, name="www", rtype="A", value="192.0.2.10", who="bob")

    def counts() -> tuple[int, int]:
        with db.session_scope() as session:
            return tuple(session.scalar(select(func.count()).select_from(t)) for t in (Record, ZoneChange))

    stored = counts()
    command.downgrade(migrate.alembic_config(), "0025")
    db.reset_engine()
    assert counts() == stored
    migrate.upgrade()
    db.reset_engine()
    assert counts() == stored
    with db.session_scope() as session:
        records.delete_record(session, ZONE, newest.id, expected_version=newest.version, who="bob")
    with db.session_scope() as session:
        again = records.create_record(session, ZONE, name="web", rtype="A", value="192.0.2.11", who="bob")
    assert again.id > newest.id
