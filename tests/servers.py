"""Throwaway servers for tests that need to stop, restart or reconfigure one (never the shared one)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pymysql


class ThrowawayMariaDB:
    """A private mariadbd on a free port with its own data dir, e.g. with a tiny ``wait_timeout``."""

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
                [install, "--no-defaults", f"--datadir={self.datadir}", "--user=root", "--auth-root-authentication-method=normal",
                 "--skip-test-db"],
                check=True, capture_output=True,
            )  # fmt: skip
        self.process = subprocess.Popen(
            ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
             f"--socket={self.socket}", "--bind-address=127.0.0.1", "--user=root", "--skip-name-resolve",
             f"--pid-file={self.base / 'mysqld.pid'}", f"--log-error={self.log}", "--innodb-buffer-pool-size=32M",
             *self.options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait_ready()
        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        with conn.cursor() as cursor:
            cursor.execute("CREATE DATABASE IF NOT EXISTS playdeck CHARACTER SET utf8mb4")
        conn.close()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1).close()
                return
            except pymysql.MySQLError:
                time.sleep(0.2)
        raise TimeoutError(f"mariadbd on port {self.port} not ready after {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
