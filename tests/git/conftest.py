"""Fixtures of the git tests: settings of their own (data dir, git limits), repositories made with real
commits, and the servers of testing.git_servers, each stopped after its test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from playdeck.settings import get_settings
from testing.git_servers import HttpsGitServer, RepoBuilder, SshGitServer
from testing.netns import Network, ssh_keygen
from tests.git.projects import shop_repo

TOKEN = "t0ken-0f-the-deploy-user"


@pytest.fixture
def git_settings(monkeypatch, tmp_path) -> Callable[..., None]:
    """``git_settings(GIT_TIMEOUT="2")``: PLAYDECK_* values for this test (the data dir is the test's own)."""

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"PLAYDECK_{name}", value)
        get_settings.cache_clear()

    apply(DATA_DIR=str(tmp_path / "data"))
    yield apply
    get_settings.cache_clear()


@pytest.fixture
def repo(tmp_path, git_settings) -> RepoBuilder:
    """Repository "shop": main with 3 commits (tag v1.0 annotated on the first, v1.1 lightweight on the
    second), a branch "feature" with one more commit; served as file://."""
    return shop_repo(tmp_path / "repos")


@pytest.fixture
def https_server(repo, git_settings) -> Iterator[HttpsGitServer]:
    """``repo`` (and any repository made beside it) over HTTPS with TOKEN; its CA trusted by the settings."""
    server = HttpsGitServer(repo.base, TOKEN)
    git_settings(GIT_CA_FILE=str(server.ca_file))
    yield server
    server.close()


@pytest.fixture
def network() -> Iterator[Network]:
    with Network() as net:
        yield net


@pytest.fixture
def ssh_server(network, tmp_path) -> Iterator[tuple[SshGitServer, Path]]:
    """A git server over SSH in a namespace, and the path of the deploy key it accepts."""
    key = tmp_path / "id_deploy"
    server = SshGitServer(network, tmp_path / "ssh-server", ssh_keygen(key, "playdeck-git"))
    yield server, key
    server.close()
