"""A real OpenLDAP ``slapd`` (testing.ldap_server) with people and nested groups, one per test module, and the
settings that point Playdeck at it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.ldap_server import ThrowawaySlapd
from tests.conftest import free_port


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawaySlapd]:
    server = ThrowawaySlapd(tmp_path_factory.mktemp("slapd"), free_port(), free_port())
    try:
        yield server.start().load_sample()
    finally:
        server.stop()


def use_directory(monkeypatch: pytest.MonkeyPatch, slapd: ThrowawaySlapd, **overrides: str) -> None:
    """Configure the process (and what it starts) for ``slapd`` (``ThrowawaySlapd.env``)."""
    from playdeck.settings import get_settings

    for name, value in slapd.env(**overrides).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@pytest.fixture
def other_ca(tmp_path: Path) -> Path:
    """A CA that signed nothing the directory presents."""
    from testing.certificates import ca_signed

    return ca_signed(tmp_path, "127.0.0.1")[0]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung directory)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join()
    for connection in [*accepted, listener]:
        connection.close()
