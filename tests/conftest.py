"""Real-service fixtures: the embedded default (SQLite + filesystem broker), MariaDB and Redis.

MariaDB and Redis are the ones this machine kind starts (``.ci/run`` checks and starts them); a test
that needs them fails loudly when they are unreachable, it is never skipped.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pymysql
import pytest
import redis

from playdeck import db, migrate
from playdeck.dns import scheduling
from playdeck.models import Run
from playdeck.projects import ensure_sample_project
from playdeck.runs import taskqueue
from playdeck.runs.lost import LostRun, record_lost
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest, resolve, submit_run
from playdeck.runs.states import TERMINAL_STATES
from playdeck.runs.transitions import request_cancel
from playdeck.settings import Settings, get_settings
from testing.servers import REPO_ROOT, ThrowawayMariaDB, ThrowawayRedis, Worker, kill_run_processes

if TYPE_CHECKING:
    from flask.testing import FlaskClient

MARIADB_HOST = os.environ.get("PLAYDECK_TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("PLAYDECK_TEST_MARIADB_PORT", "3306"))
REDIS_URL = os.environ.get("PLAYDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_user(
    name: str = "admin",
    role: str = "admin",
    *,
    password: str | None = None,
    projects: tuple[str, ...] = (),
    zones: tuple[str, ...] = (),
) -> str:
    """The user ``name`` (created with ``role`` if missing, given the grants) and a new API token of theirs."""
    from playdeck.auth import credentials, users
    from playdeck.dns import editors
    from playdeck.errors import NotFound

    with db.session_scope() as session:
        try:
            user = users.get_user(session, name)
        except NotFound:
            user = users.create_user(session, name, role, password)
        for project in projects:
            users.grant_project(session, user, project)
        for zone in zones:
            editors.grant_zone(session, user, zone)
        return credentials.create_token(session, name, name="tests").token


def authorize(client, name: str = "admin", role: str = "admin", **grants) -> str:
    """Send every request of a Flask test client as ``name`` (an API token in its Authorization header)."""
    token = make_user(name, role, **grants)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return token


def web_client(name: str = "admin", role: str = "admin", **grants: tuple[str, ...]) -> FlaskClient:
    """A Flask test client of a new app on the services configured now, signed in as ``name``."""
    from webui import create_app

    client = create_app({"TESTING": True}).test_client()
    authorize(client, name, role, **grants)
    return client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def as_user(name: str, role: str = "admin", **grants: tuple[str, ...]) -> dict[str, str]:
    """Headers that make one request as ``name`` (created if missing, with a new token of theirs)."""
    return bearer(make_user(name, role, **grants))


def api_headers() -> dict[str, str]:
    """For plain HTTP requests to a running web: the token the CLI would send (``configure``'s admin, or
    the one `playdeck up` wrote on a fresh install)."""
    from playdeck.cli.apiclient import configured_token
    from playdeck.settings import load_settings

    # Not the cached settings: a test may have changed PLAYDECK_TOKEN since.
    return bearer(configured_token(load_settings()))


def use_key(monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    """Configure (or, with None, remove) PLAYDECK_SECRET_KEY for this test and what it starts."""
    if key is None:
        monkeypatch.delenv("PLAYDECK_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("PLAYDECK_SECRET_KEY", key)
    get_settings.cache_clear()


def free_extra_vars(project: str = "sampleapp") -> None:
    """Let launches of ``project`` pass any variable that is not reserved, as before launch forms (an empty
    declared form that allows free extra vars): for tests of something else than the sample's form."""
    from playdeck.launch_inputs import set_launch_form

    with db.session_scope() as session:
        set_launch_form(session, project, [], True, who="setup")


def reset_process_state() -> None:
    """Forget cached settings, engine and broker producer after the environment changed."""
    get_settings.cache_clear()
    db.reset_engine()
    taskqueue.producer.cache_clear()


def configure(monkeypatch: pytest.MonkeyPatch, seed_sample: bool = True, **values: str) -> Settings:
    """Set PLAYDECK_* variables for this test (and the subprocesses it starts), migrate, seed; the user
    admin's token in PLAYDECK_TOKEN lets the CLI and in-process API clients in."""
    for name, value in values.items():
        monkeypatch.setenv(f"PLAYDECK_{name.upper()}", str(value))
    reset_process_state()
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade()
    if seed_sample:
        with db.session_scope() as session:
            ensure_sample_project(session)
    monkeypatch.setenv("PLAYDECK_TOKEN", make_user("admin", "admin"))
    get_settings.cache_clear()  # the engine stays: the database is the same
    return get_settings()


@pytest.fixture(autouse=True)
def _isolated_process_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    # No test may touch the developer's ~/.playdeck by accident.
    monkeypatch.setenv("PLAYDECK_DATA_DIR", str(tmp_path / "data"))
    # Tests' playbooks leave marker files and outputs in the test's tmp dir; a sandboxed run may write there
    # (its data dir below stays hidden).
    monkeypatch.setenv("PLAYDECK_RUN_WRITABLE_PATHS", str(tmp_path))
    for name in ("DATABASE_URL", "BROKER_URL", "TOKEN"):
        monkeypatch.delenv(f"PLAYDECK_{name}", raising=False)
    reset_process_state()
    yield
    reset_process_state()


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The zero-configuration default: SQLite and the filesystem broker in a fresh data dir."""
    return configure(monkeypatch, data_dir=str(tmp_path / "data"))


@pytest.fixture(scope="session")
def mariadb_server() -> str:
    try:
        pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="").close()
    except pymysql.MySQLError as exc:
        where = f"{MARIADB_HOST}:{MARIADB_PORT}"
        pytest.fail(f"MariaDB at {where} is not reachable ({exc}); run .ci/run to start it")
    return f"{MARIADB_HOST}:{MARIADB_PORT}"


@pytest.fixture
def mariadb_url(mariadb_server: str) -> Iterator[str]:
    """A fresh, empty database on the shared MariaDB, dropped afterwards."""
    with fresh_mariadb_database(mariadb_server) as url:
        yield url


@contextmanager
def fresh_mariadb_database(mariadb_server: str) -> Iterator[str]:
    """``mariadb_url`` for fixtures of a wider scope than a test."""
    name = f"playdeck_test_{uuid.uuid4().hex[:12]}"
    conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        yield f"mysql+pymysql://root@{mariadb_server}/{name}?charset=utf8mb4"
    finally:
        db.reset_engine()
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


# Redis DB numbers 1..12 are the tests' (13..15 the benchmarks'). A test leases one for its duration
# (SET NX in DB 0), so tests of several pytest processes at once (xdist workers, a second suite run)
# never share a DB.
REDIS_TEST_DBS = range(1, 13)
REDIS_LEASE_SECONDS = 3600
REDIS_LEASE_WAIT_SECONDS = 120


def lease_key(number: int) -> str:
    return f"playdeck-test:redis-db:{number}"


@contextmanager
def leased_redis_db() -> Iterator[str]:
    """The URL of a Redis DB no other test uses meanwhile (flushed before use)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); run .ci/run to start it")
    token = f"{os.getpid()}:{uuid.uuid4().hex}"
    deadline = time.monotonic() + REDIS_LEASE_WAIT_SECONDS
    while True:
        leased = (n for n in REDIS_TEST_DBS if client.set(lease_key(n), token, nx=True, ex=REDIS_LEASE_SECONDS))
        number = next(leased, None)
        if number is not None:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"all Redis test DBs {REDIS_TEST_DBS} are leased by other tests")
        time.sleep(0.5)
    redis.Redis.from_url(f"{REDIS_URL}/{number}").flushdb()
    try:
        yield f"{REDIS_URL}/{number}"
    finally:
        # Only our own lease: a lease that expired may belong to another test by now.
        if client.get(lease_key(number)) == token.encode():
            client.delete(lease_key(number))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of its own for this test."""
    with leased_redis_db() as url:
        yield url


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mariadb_url: str, redis_url: str) -> Settings:
    """The production shape: MariaDB through PyMySQL and a Redis broker."""
    return configure(monkeypatch, data_dir=str(tmp_path / "data"), database_url=mariadb_url, broker_url=redis_url)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator:
    """Start workers with the current PLAYDECK_* environment; all are stopped at teardown."""
    started: list[Worker] = []

    def start(log_path: Path | None = None, **kwargs) -> Worker:
        worker = Worker(log_path or tmp_path / f"worker-{len(started)}.log", **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    # What a worker killed mid-run left behind (production's reaper and sweep would end it).
    for install in {worker.install for worker in started}:
        kill_run_processes(install)


# What tests wait for a run to reach: its end, whichever it is.
TERMINAL = frozenset(state.value for state in TERMINAL_STATES)


def wait_for_state(run_id: int, states: set[str] | frozenset[str], timeout: float = 120) -> str:
    """Poll the run (short sessions) until it reaches one of ``states``."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        with db.session_scope() as session:
            state = get_run(session, run_id).state
        if state in states:
            return state
        time.sleep(0.1)
    raise TimeoutError(f"run {run_id} still '{state}' after {timeout}s")


# What a view, a CLI command or the reaper does around a run service: the caller's transaction, whose
# messages go to the broker once it commits (playdeck.unit_of_work).


def queue_run(request: RunRequest) -> Run:
    """The run queued, committed and sent to the workers; read again as the API would show it."""
    request = resolve(request)
    with db.session_scope() as session:
        run_id = submit_run(session, request).id
    with db.session_scope() as session:
        return get_run(session, run_id)


def cancel_run(run_id: int, by: str, force: bool = False) -> Run:
    with db.session_scope() as session:
        return request_cancel(session, run_id, by, force)


def mark_lost(run_id: int, reason: str) -> LostRun | None:
    with db.session_scope() as session:
        return record_lost(session, run_id, reason)


def request_regeneration(zone: str, requested_by: str = scheduling.SCHEDULER) -> int | None:
    with db.session_scope() as session:
        return scheduling.request_regeneration(session, zone, requested_by)


def configure_test_playbooks(monkeypatch, tmp_path, database_url: str, broker_url: str, **values: str) -> Settings:
    """Production shape on the given servers, projects' playbooks and inventories from tests/ (or ``values``'
    playbook_dir and inventory_dir)."""
    return configure(
        monkeypatch,
        seed_sample=False,
        **{
            "data_dir": str(tmp_path / "data"),
            "database_url": database_url,
            "broker_url": broker_url,
            "playbook_dir": str(REPO_ROOT / "tests" / "playbooks"),
            "inventory_dir": str(REPO_ROOT / "tests" / "inventory"),
            **values,
        },
    )


@pytest.fixture
def test_playbooks(monkeypatch, tmp_path, mariadb_url, redis_url) -> Settings:
    """Fresh MariaDB database and Redis db, projects' playbooks and inventories from tests/."""
    return configure_test_playbooks(monkeypatch, tmp_path, mariadb_url, redis_url)


@pytest.fixture
def throwaway_mariadb(tmp_path) -> Iterator:
    """Start private MariaDB servers (``throwaway_mariadb("--wait-timeout=3")``), stopped at teardown."""
    started: list[ThrowawayMariaDB] = []

    def start(*options: str) -> ThrowawayMariaDB:
        server = ThrowawayMariaDB(tmp_path / f"mariadb-{len(started)}", free_port(), *options)
        server.base.mkdir()
        started.append(server)
        return server.start()

    yield start
    db.reset_engine()
    for server in started:
        server.stop()


@pytest.fixture
def throwaway_redis(tmp_path) -> Iterator[ThrowawayRedis]:
    """A private Redis without persistence (``.restart()`` loses every message), stopped at teardown."""
    server = ThrowawayRedis(tmp_path / "redis", free_port())
    server.base.mkdir()
    yield server.start()
    server.stop()
