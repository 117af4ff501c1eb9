"""A real OpenLDAP ``slapd`` (testing.ldap_server) with people and nested groups, one per test module, and the
settings that point Playdeck at it."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from playdeck.settings import Settings, load_settings
from testing.ldap_server import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, ThrowawaySlapd
from tests.conftest import free_port


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawaySlapd]:
    server = ThrowawaySlapd(tmp_path_factory.mktemp("slapd"), free_port(), free_port())
    try:
        yield server.start().load_sample()
    finally:
        server.stop()


def directory_env(slapd: ThrowawaySlapd, **overrides: str) -> dict[str, str]:
    """PLAYDECK_LDAP_* for ``slapd`` over LDAPS with nested groups; ``overrides`` replace (or add) names."""
    env = {
        "URL": slapd.ldaps_url,
        "CA_FILE": str(slapd.ca_file),
        "BIND_DN": SERVICE_DN,
        "BIND_PASSWORD": SERVICE_PASSWORD,
        "USER_BASE": PEOPLE,
        "GROUP_BASE": GROUPS,
        "NESTED_GROUPS": "1",
        "CONNECT_TIMEOUT_SECONDS": "2",
        "RECEIVE_TIMEOUT_SECONDS": "2",
    } | overrides
    return {f"PLAYDECK_LDAP_{name}": value for name, value in env.items()}


def use_directory(monkeypatch: pytest.MonkeyPatch, slapd: ThrowawaySlapd, **overrides: str) -> None:
    """Configure the process (and what it starts) for ``slapd``."""
    from playdeck.settings import get_settings

    for name, value in directory_env(slapd, **overrides).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def directory_settings(slapd: ThrowawaySlapd, **overrides: object) -> Settings:
    """Settings for ``slapd`` without touching the environment; ``overrides`` are Settings fields."""
    base = load_settings()
    settings = dataclasses.replace(
        base, ldap_urls=(slapd.ldaps_url,), ldap_ca_file=slapd.ca_file, ldap_bind_dn=SERVICE_DN,
        ldap_bind_password=SERVICE_PASSWORD, ldap_user_base=PEOPLE, ldap_group_base=GROUPS, ldap_nested_groups=True,
        ldap_connect_timeout_seconds=2.0, ldap_receive_timeout_seconds=2.0,
    )  # fmt: skip
    return dataclasses.replace(settings, **overrides)


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
