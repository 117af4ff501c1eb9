"""A whole Playdeck stack for benchmarks: fresh DB, broker, the real web server and a real worker.

Processes are started through the same ``playdeck web`` / ``playdeck worker`` commands production uses.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pymysql
import requests

from playdeck.errors import NotFound
from testing.servers import ThrowawayRedis

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PLAYDECK = shutil.which("playdeck", path=str(Path(sys.executable).parent)) or "playdeck"
BENCH_USER = "bench"


def run_in_threads(target, count: int) -> None:
    """``target`` on ``count`` threads at once; back when every one has ended."""
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def loadavg() -> str:
    """The 1/5/15-minute load averages, recorded with every measurement (a shared machine is noisy)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rss_mb(pid: int) -> float:
    """Resident set size of one process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def mysql(database: str | None = None, **options) -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", user="root", database=database, autocommit=True, **options)


def database_exists(name: str) -> bool:
    conn = mysql()
    with conn.cursor() as cursor:
        found = cursor.execute("SHOW DATABASES LIKE %s", (name,))
    conn.close()
    return bool(found)


def drop_database(name: str) -> None:
    conn = mysql()
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
    conn.close()


class Database:
    """``with Database() as url:`` — a fresh MariaDB database ``bench_*`` at the current schema, which this
    process uses (PLAYDECK_DATABASE_URL) until the block ends and the database is dropped."""

    def __init__(self, prefix: str = "bench") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.url = f"mysql+pymysql://root@127.0.0.1:3306/{self.name}?charset=utf8mb4"
        self._saved = dict(os.environ)

    def __enter__(self) -> str:
        conn = mysql()
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4")
        conn.close()
        use_database(self.url)
        from playdeck import migrate

        migrate.upgrade()
        return self.url

    def __exit__(self, *exc) -> None:
        from playdeck import db

        db.reset_engine()
        drop_database(self.name)
        os.environ.clear()
        os.environ.update(self._saved)


def use_database(url: str) -> None:
    """Point this process's settings and engine at ``url``."""
    from playdeck import db
    from playdeck.settings import get_settings

    os.environ["PLAYDECK_DATABASE_URL"] = url
    os.environ.setdefault("PLAYDECK_DATA_DIR", tempfile.mkdtemp(prefix="playdeck-bench-data-"))
    get_settings.cache_clear()
    db.reset_engine()


@dataclass
class Row:
    name: str
    measured: float
    unit: str
    target: float | None  # None: shown for information, no target
    lower_is_better: bool = True
    note: str = ""

    @property
    def passed(self) -> bool:
        if self.target is None:
            return True
        return self.measured <= self.target if self.lower_is_better else self.measured >= self.target


def machine_speed() -> Row:
    """How fast this machine and interpreter run plain Python, to compare results across machines: the
    same code measured 2.4x slower on one 2-core machine than on another (issue 7). Best of 5."""
    timings = []
    for _ in range(5):
        started = time.process_time()
        total = 0
        for number in range(2_000_000):
            total += number
        timings.append(time.process_time() - started)
    return Row(
        "reference: 2M additions in a Python loop",
        min(timings) * 1000,
        "ms",
        None,
        note=f"{sys.executable} (Python {sys.version.split()[0]}); lower is a faster machine; load {loadavg()}",
    )


def print_table(rows: list[Row]) -> None:
    header = f"{'benchmark':<52} {'measured':>12} {'target':>12}  result  note"
    print(header)
    print("-" * len(header))
    for row in rows:
        if row.target is None:
            target, result = f"{'—':>12}", "info"
        else:
            sign = "≤" if row.lower_is_better else "≥"
            target, result = f"{sign}{row.target:>8.3f} {row.unit:<2}", "PASS" if row.passed else "FAIL"
        print(f"{row.name:<52} {row.measured:>9.3f} {row.unit:<2} {target} {result:<6}  {row.note}")


class Stack:
    """``with Stack("production") as stack:`` — MariaDB + Redis; ``Stack("embedded")`` — SQLite + filesystem.

    ``queues``: what the worker consumes; ``env``: settings of this stack's own (the defaults point at
    bench/playbooks and bench/inventory, whose projects are registered only then).
    """

    def __init__(
        self,
        mode: str,
        worker_concurrency: int = 1,
        queues: str = "deploy",
        env: dict[str, str] | None = None,
        db_name: str | None = None,
        keep_database: bool = False,
        worker: bool = True,
    ) -> None:
        """``db_name``/``keep_database``: use (and keep) a named database, e.g. a seeded one that is reused;
        ``worker``: also start a worker."""
        self.mode = mode
        self.keep_database = keep_database
        self.with_worker = worker
        self.worker_concurrency = worker_concurrency
        self.queues = queues
        self.tmp = Path(tempfile.mkdtemp(prefix=f"playdeck-bench-{mode}-"))
        self.port = free_port()
        self.db_name = db_name or f"playdeck_bench_{uuid.uuid4().hex[:8]}"
        self.processes: list[subprocess.Popen] = []
        # Only what this stack sets: nothing inherited from the caller's (or a previous stack's) PLAYDECK_*.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PLAYDECK_")}
        self._saved_environ = dict(os.environ)
        self.env.update(
            {
                "PLAYDECK_DATA_DIR": str(self.tmp / "data"),
                "PLAYDECK_PLAYBOOK_DIR": str(BENCH_DIR / "playbooks"),
                "PLAYDECK_INVENTORY_DIR": str(BENCH_DIR / "inventory"),
                "PLAYDECK_WEB_PORT": str(self.port),
                "PLAYDECK_URL": f"http://127.0.0.1:{self.port}",
            }
        )
        self.env.update(env or {})
        if mode == "production":
            self.env["PLAYDECK_DATABASE_URL"] = f"mysql+pymysql://root@127.0.0.1:3306/{self.db_name}?charset=utf8mb4"
        self.api = f"http://127.0.0.1:{self.port}/api/v1"
        self.http = requests.Session()

    def __enter__(self) -> Stack:
        if self.mode == "production":
            conn = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS {self.db_name} CHARACTER SET utf8mb4")
            conn.close()
            # A broker of this stack's own: with one shared Redis database, two benchmarks at once (two
            # checkouts on one machine) flushed each other's queues, and each worker took the other's
            # messages, found no such run in its own database and dropped them: runs never finished.
            (self.tmp / "redis").mkdir()
            self.broker = ThrowawayRedis(self.tmp / "redis", free_port()).start()
            self.env["PLAYDECK_BROKER_URL"] = self.broker.url
        # Configure this process too, so it can read run timestamps with the same services.
        os.environ.clear()
        os.environ.update(self.env)
        from playdeck import db
        from playdeck.runs import taskqueue
        from playdeck.settings import get_settings

        get_settings.cache_clear()
        db.reset_engine()
        taskqueue.producer.cache_clear()
        self._run([PLAYDECK, "db", "upgrade", "--no-sample"])
        self._sign_in()
        if self.env["PLAYDECK_PLAYBOOK_DIR"] == str(BENCH_DIR / "playbooks"):
            self._register_projects()
        self.web = self._spawn([PLAYDECK, "web"], "web.log")
        if self.with_worker:
            self.worker = self._spawn(
                [PLAYDECK, "worker", "--queues", self.queues, "--concurrency", str(self.worker_concurrency)],
                "worker.log",
            )
        self._wait_ready()
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        from playdeck import db

        db.reset_engine()
        if self.mode == "production":
            self.broker.stop()
            if not self.keep_database:
                drop_database(self.db_name)
        shutil.rmtree(self.tmp, ignore_errors=True)
        os.environ.clear()
        os.environ.update(self._saved_environ)

    def _run(self, command: list[str]) -> None:
        subprocess.run(command, env=self.env, check=True, cwd=REPO_ROOT, capture_output=True)

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.tmp / log_name, "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            command, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(proc)
        return proc

    def _sign_in(self) -> None:
        """An admin of the stack's own: its token goes with every API request of ``self.http`` and, as
        PLAYDECK_TOKEN, to this process and the ones it starts (the CLI)."""
        from playdeck import db
        from playdeck.auth import credentials, users
        from playdeck.settings import get_settings

        with db.session_scope() as session:
            try:
                users.get_user(session, BENCH_USER)
            except NotFound:  # a kept database has its user already
                users.create_user(session, BENCH_USER, "admin", None)
            token = credentials.create_token(session, BENCH_USER, name="bench").token
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.env["PLAYDECK_TOKEN"] = os.environ["PLAYDECK_TOKEN"] = token
        get_settings.cache_clear()  # settings read before the token existed; the engine stays

    def _register_projects(self) -> None:
        self.register_project("trivial", "trivial.yml", {"local": "local1.ini"})
        self.register_project("tentasks", "ten_tasks.yml", {"local": "local5.ini"})

    def register_project(self, name: str, playbook: str, environments: dict[str, str], **options: int | bool) -> None:
        """Register it unless the (kept) database has it already."""
        from playdeck import db, projects

        with db.session_scope() as session:
            try:
                projects.get_project(session, name)
            except NotFound:
                projects.add_project(session, name, playbook, environments, **options)

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            worker_path = self.tmp / "worker.log"
            worker_log = worker_path.read_text(errors="replace") if worker_path.exists() else ""
            try:
                web_ok = self.http.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).ok
            except requests.RequestException:
                web_ok = False
            if web_ok and (" ready." in worker_log or not self.with_worker):
                return
            for proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args} exited:\n{worker_log[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError("stack not ready")

    def deploy(self, project: str) -> int:
        response = self.http.post(f"{self.api}/runs", json={"project": project, "environment": "local"}, timeout=10)
        response.raise_for_status()
        return response.json()["id"]

    def wait_finished(self, run_id: int, poll: float = 0.1, timeout: float = 300):
        """Poll the DB until the run's terminal state is recorded; returns its timestamps and state.

        Results use the timestamps the platform recorded, not when this loop noticed them, so a slow
        poll costs no accuracy, and a fast one would only steal CPU from the run being measured.
        """
        from sqlalchemy import select

        from playdeck import db
        from playdeck.models import Run
        from playdeck.runs.states import is_terminal

        columns = (Run.id, Run.state, Run.reason, Run.queued_at, Run.started_at, Run.finished_at)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with db.session_scope() as session:
                run = session.execute(select(*columns).where(Run.id == run_id)).one()
            if is_terminal(run.state):
                return run
            time.sleep(poll)
        raise TimeoutError(f"run {run_id} did not finish")
