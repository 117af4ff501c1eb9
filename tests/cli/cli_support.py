"""Helpers for driving the real ``playdeck`` command and the services it starts.

Every command runs as a subprocess of the installed console script, with the test's (monkeypatched)
environment, exactly as a person would type it.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
import requests
from supervisor.xmlrpc import SupervisorTransport

from playdeck.cli.supervisor import PROGRAMS, SupervisorLayout

T = TypeVar("T")
PLAYDECK = Path(sys.executable).parent / "playdeck"
WEB_START_SECONDS = 60
SUPERVISED_START_SECONDS = 90


def playdeck(*args: str, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``playdeck ARGS`` to completion, ``input`` on its stdin (else none); fails the test on a Python
    traceback."""
    if not PLAYDECK.is_file():
        pytest.fail(f"{PLAYDECK} is missing: run `pip install -e .` (scripts/test does)")
    stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    result = subprocess.run([str(PLAYDECK), *args], capture_output=True, text=True, timeout=timeout, **stdin)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def start_playdeck(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """Start a long-running ``playdeck ARGS`` in its own session, output to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(PLAYDECK), *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_for_items(items: list[T], lock: threading.Lock, count: int, timeout: float, what: str) -> list[T]:
    """A copy of ``items`` (appended to by a server's thread under ``lock``) once it holds ``count``."""

    def enough() -> list[T]:
        with lock:
            return list(items) if len(items) >= count else []

    return wait_until(enough, timeout, f"{count} {what}")  # type: ignore[return-value]


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


def stop_process_tree(process: subprocess.Popen, timeout: float) -> list[psutil.Process]:
    """TERM the process, wait for it, SIGKILL its session if it overstays; returns its descendants
    as they were before the stop, for the caller to check none is left."""
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    return descendants


def still_alive(processes: list[psutil.Process], grace: float = 10) -> list[psutil.Process]:
    _gone, alive = psutil.wait_procs(processes, timeout=grace)
    for leftover in alive:  # clean up for the next test, after recording the failure
        leftover.kill()
    return alive


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"({path}: {exc.strerror})"


@dataclass
class SupervisedPlaydeck:
    """A running `playdeck up`: the supervisord process and its XML-RPC interface."""

    process: subprocess.Popen
    url: str
    layout: SupervisorLayout
    log: Path

    @property
    def rpc(self) -> xmlrpc.client.ServerProxy:
        # A new proxy per use: the transport keeps one connection, unusable after a failed request.
        # The URL's host is ignored; the transport talks to the unix socket.
        transport = SupervisorTransport(serverurl=self.layout.server_url)
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def states(self) -> dict[str, str]:
        return {info["name"]: info["statename"] for info in self.rpc.supervisor.getAllProcessInfo()}


def wait_all_running(supervised: SupervisedPlaydeck) -> None:
    deadline = time.monotonic() + SUPERVISED_START_SECONDS
    while True:
        if supervised.process.poll() is not None:
            pytest.fail(f"`playdeck up` exited with {supervised.process.returncode}:\n{tail(supervised.log)}")
        try:
            states = supervised.states()
        except (OSError, http.client.HTTPException, xmlrpc.client.Fault):
            states = {}  # supervisord not listening yet
        if states and all(state == "RUNNING" for state in states.values()):
            return
        broken = [name for name, state in states.items() if state in ("FATAL", "EXITED", "BACKOFF")]
        if broken or time.monotonic() > deadline:
            logs = "\n".join(f"--- {name}:\n{tail(supervised.layout.log_dir / f'{name}.log')}" for name in PROGRAMS)
            pytest.fail(f"programs not RUNNING: {states}\n{logs}")
        time.sleep(0.5)
