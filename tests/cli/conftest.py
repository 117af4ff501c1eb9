"""CLI test fixtures: the real web app (`playdeck web`) and the whole of `playdeck up`, as subprocesses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from playdeck.cli.supervisor import SupervisorLayout
from playdeck.settings import Settings, get_settings
from tests.cli.cli_support import (
    WEB_START_SECONDS,
    SupervisedPlaydeck,
    answers,
    start_playdeck,
    still_alive,
    stop_process_tree,
    tail,
    wait_all_running,
    wait_until,
)
from tests.conftest import free_port, reset_process_state


def serve_web(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """The real web app under gunicorn (`playdeck web`) on a free port, with the services the test's
    settings name; PLAYDECK_URL points at it."""
    port = free_port()
    monkeypatch.setenv("PLAYDECK_WEB_PORT", str(port))
    reset_process_state()
    url = get_settings().api_url
    log = tmp_path / "web.log"
    server = start_playdeck("web", log=log)
    try:
        deadline = time.monotonic() + WEB_START_SECONDS
        while not answers(f"{url}/api/v1/runs"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`playdeck web` did not come up on {url}:\n{tail(log)}")
            time.sleep(0.2)
        yield url
    finally:
        leftovers = still_alive(stop_process_tree(server, timeout=30))
        assert not leftovers, f"gunicorn processes left behind: {leftovers}"


@pytest.fixture
def web_api(embedded: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """`playdeck web` on the embedded default (SQLite + filesystem broker)."""
    yield from serve_web(monkeypatch, tmp_path)


@pytest.fixture
def production_web_api(production: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """`playdeck web` on MariaDB + Redis."""
    yield from serve_web(monkeypatch, tmp_path)


@pytest.fixture
def playdeck_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SupervisedPlaydeck]:
    """`playdeck up` in a fresh data dir on a free port, every program RUNNING; stopped afterwards,
    and the test fails if any process it started is left."""
    # A short data dir path: the supervisor socket lives in it, and unix socket paths are short.
    monkeypatch.setenv("PLAYDECK_DATA_DIR", str(tmp_path / "d"))
    yield from supervise(monkeypatch, tmp_path)


def supervise(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SupervisedPlaydeck]:
    """`playdeck up` with the current settings on a free port (``playdeck_up``; for fixtures of a wider scope)."""
    monkeypatch.setenv("PLAYDECK_WEB_PORT", str(free_port()))
    reset_process_state()
    settings = get_settings()
    layout = SupervisorLayout.for_settings(settings)
    log = tmp_path / "up.log"
    supervised = SupervisedPlaydeck(
        process=start_playdeck("up", log=log),
        url=settings.api_url,
        layout=layout,
        log=log,
    )
    try:
        wait_all_running(supervised)
        wait_until(lambda: answers(f"{supervised.url}/healthz"), WEB_START_SECONDS, f"{supervised.url}/healthz")
        yield supervised
    finally:
        # supervisord gives workers up to stopwaitsecs; with nothing running they stop in seconds.
        leftovers = still_alive(stop_process_tree(supervised.process, timeout=120))
        assert not leftovers, f"processes left behind after supervisord stopped: {leftovers}"
