"""What an attacker can put in a URL, a ref, a repository's .gitmodules or Playdeck's own environment never
becomes a git option or a command: each is refused with a clear error, and the command never ran (its marker
file never appears)."""

from __future__ import annotations

import pytest

from playdeck.errors import ValidationError
from playdeck.git import GitError, Mirror
from playdeck.git.command import GitSession
from playdeck.git.errors import TRANSPORT_REFUSED, UNREACHABLE
from testing.git_servers import RepoBuilder


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "an injected command ran"


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch {marker}",
        "--upload-pack=touch%20{marker}",
        "-c core.sshCommand=touch {marker}",
        "ext::sh -c touch% {marker}",
        "ext::sh%20-c%20touch%20{marker}",
        "fd::0",
        "ssh://-oProxyCommand=touch%20{marker}/repo.git",
        "git@-oProxyCommand=touch:{marker}",
    ],
)
def test_injected_urls_are_refused_before_git_runs(url, marker, git_settings):
    with pytest.raises(ValidationError) as caught:
        Mirror("shop", url.format(marker=marker), allow_file=True).fetch()
    assert caught.value.field == "git_url"


@pytest.mark.parametrize(
    "ref",
    [
        "--upload-pack=touch {marker}",
        "--upload-pack=touch",
        "-c core.sshCommand=touch {marker}",
        "-ccore.sshCommand=touch",
        "--output={marker}",
        "ext::sh -c touch% {marker}",
        "main@{{1}}",
        "HEAD^{{/touch}}",
    ],
)
def test_injected_refs_are_refused_before_git_runs(ref, marker, repo):
    mirror = Mirror("shop", repo.url, allow_file=True)
    mirror.fetch()
    with pytest.raises(ValidationError) as caught:
        mirror.resolve(ref.format(marker=marker))
    assert caught.value.field == "ref"


def test_git_itself_refuses_other_transports(marker, git_settings):
    # Defence in depth: were a URL to slip past check_url, the environment allows https and ssh only.
    with GitSession("https://git.example.test/shop.git") as git, pytest.raises(GitError) as caught:
        git.run("ls-remote", "--", f"ext::sh -c touch% {marker}")
    assert caught.value.reason == TRANSPORT_REFUSED


def test_our_environment_does_not_reach_git(marker, git_settings, monkeypatch):
    # Variables set for (or by) the platform process never steer git: it gets an environment of its own.
    monkeypatch.setenv("GIT_SSH_COMMAND", f"touch {marker}")
    monkeypatch.setenv("GIT_SSH", f"/bin/sh -c 'touch {marker}'")
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'core.sshCommand'='touch {marker}'")
    monkeypatch.setenv("GIT_DIR", "/nonexistent")
    with pytest.raises(GitError) as caught:
        Mirror("shop", "ssh://git@127.0.0.1:1/shop.git").fetch()
    assert caught.value.reason == UNREACHABLE


def test_a_submodule_url_with_a_command_is_refused(marker, repo, tmp_path):
    # The repository's own .gitmodules is content too: an ext:: submodule runs nothing.
    repo.git("config", "-f", ".gitmodules", "submodule.evil.path", "evil")
    repo.git("config", "-f", ".gitmodules", "submodule.evil.url", f"ext::sh -c touch% {marker}")
    evil = RepoBuilder(tmp_path / "evil-src", "evil")
    evil_sha = evil.commit("x", {"x": "y"})
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{evil_sha},evil")
    (repo.work / "evil").mkdir()  # an unpopulated submodule, as a fresh clone has it
    sha = repo.commit("evil submodule", {".gitmodules": (repo.work / ".gitmodules").read_text()})
    mirror = Mirror("shop", repo.url, allow_file=True)
    mirror.fetch()
    with pytest.raises(GitError) as caught:
        mirror.checkout(sha, tmp_path / "run", submodules=True)
    assert caught.value.reason == TRANSPORT_REFUSED


def test_a_file_submodule_of_an_https_project_is_refused(repo, https_server, tmp_path):
    # file:// is for administrators' file:// projects: a repository over HTTPS cannot read this server's files.
    secret = RepoBuilder(tmp_path / "server-files", "secret")
    secret.commit("private", {"key": "server secret\n"})
    sha = repo.add_submodule("lib", secret)
    from playdeck.git import GitCredential
    from tests.git.conftest import TOKEN

    mirror = Mirror("shop", https_server.url("shop"), GitCredential.https("deploy", TOKEN))
    mirror.fetch()
    with pytest.raises(GitError) as caught:
        mirror.checkout(sha, tmp_path / "run", submodules=True)
    assert caught.value.reason == TRANSPORT_REFUSED
    assert not (tmp_path / "run" / "lib" / "key").exists()
