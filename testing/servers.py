"""Throwaway servers for tests that need to stop, restart or reconfigure one (never the shared one)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pymysql
import redis

from runners import orphans

REPO_ROOT = Path(__file__).resolve().parent.parent
PLAYDECK = shutil.which("playdeck", path=str(Path(sys.executable).parent)) or "playdeck"


class ThrowawayServer:
    """A server process of a test's own: started by a subclass, ready once ``answers()`` says so,
    stopped with TERM (then KILL). Its log file is ``log``."""

    name = "server"
    stop_seconds = 30
    process: subprocess.Popen | None = None
    log: Path
    port: int

    def answers(self) -> bool:
        raise NotImplementedError

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            if self.answers():
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} on port {self.port} not ready after {timeout}s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.stop_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ThrowawayMariaDB(ThrowawayServer):
    """A private mariadbd on a free port with its own data dir, e.g. with a tiny ``wait_timeout``."""

    name = "mariadbd"
    stop_seconds = 60

    def __init__(self, base: Path, port: int, *options: str) -> None:
        self.base = base
        self.port = port
        self.options = options
        self.datadir = base / "data"
        self.socket = base / "mysqld.sock"
        self.log = base / "mysqld.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/playdeck?charset=utf8mb4"

    def start(self) -> ThrowawayMariaDB:
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if install is None:
            raise RuntimeError("mariadb-install-db not found: install the mariadb-server package")
        if not self.datadir.exists():
            subprocess.run(
                [
                    install,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ],
                check=True,
                capture_output=True,
            )
        command = [
            "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={self.port}",
            f"--socket={self.socket}",
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-name-resolve",
            f"--pid-file={self.base / 'mysqld.pid'}",
            f"--log-error={self.log}",
            "--innodb-buffer-pool-size=32M",
            *self.options,
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()
        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        with conn.cursor() as cursor:
            cursor.execute("CREATE DATABASE IF NOT EXISTS playdeck CHARACTER SET utf8mb4")
        conn.close()
        return self

    def answers(self) -> bool:
        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1).close()
            return True
        except pymysql.MySQLError:
            return False


def kill_run_processes(install: str) -> list[int]:
    """SIGKILL every process tagged as a run of ``install`` (a test's leftovers once its workers stopped)."""
    killed = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(orphans.RUN_ENV, "").startswith(f"{install}/"):
                proc.kill()
                killed.append(proc.pid)
        except (psutil.Error, OSError):
            continue  # gone meanwhile, or not ours to read
    return killed


class Worker:
    """A real Celery worker (prefork) in a subprocess, started the way production starts it."""

    def __init__(self, log_path: Path, queues: str = "deploy,dns", concurrency: int = 2) -> None:
        self.log_path = log_path
        self.name = f"test-{uuid.uuid4().hex[:8]}"
        # The install its runs' processes are tagged with (PLAYDECK_RUN), from the current settings.
        self.install = orphans.install_id()
        # The production entry point, so the exact Celery flags are tested too.
        command = [PLAYDECK, "worker", "--queues", queues, "--concurrency", str(concurrency), "--name", self.name]
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.wait_ready()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.output()}")
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


class ThrowawayRedis(ThrowawayServer):
    """A private redis-server on a free port that keeps nothing on disk: ``restart()`` loses every message,
    queued and unacknowledged alike, as a production Redis without RDB/AOF does when it restarts."""

    name = "redis-server"

    def __init__(self, base: Path, port: int) -> None:
        self.base = base
        self.port = port
        self.log = base / "redis.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)

    def start(self) -> ThrowawayRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: install the redis-server package")
        command = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.base),
            "--logfile", str(self.log),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()
        return self

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def restart(self) -> None:
        """Stop, then start again on the same port (clients see their connections drop)."""
        self.stop()
        self.start()
