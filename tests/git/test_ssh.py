"""Git over SSH to a real sshd in a network namespace (user git, git-shell, key only): the deploy key
fetches, another key is refused, and the host key is pinned: an unknown or changed key is refused."""

from __future__ import annotations

import pytest

from playdeck.git import GitCredential, GitError, Mirror
from playdeck.git.errors import AUTH_FAILED, CHANGED_HOST_KEY, UNKNOWN_HOST_KEY
from testing.netns import ssh_keygen


def test_the_deploy_key_fetches_over_ssh_and_scp_like_urls(repo, ssh_server, tmp_path):
    server, key = ssh_server
    url = server.serve(repo)
    credential = GitCredential.ssh_key(key.read_text(), server.known_hosts_line())
    mirror = Mirror("shop", url, credential)
    assert mirror.fetch() is True
    assert mirror.resolve("v1.0").sha == repo.head("v1.0")
    mirror.checkout(mirror.resolve("main").sha, tmp_path / "run")
    assert (tmp_path / "run" / "VERSION").read_text() == "1.2\n"
    scp_like = f"git@{server.address}:{url.split(server.address, 1)[1]}"
    assert Mirror("shop-scp", scp_like, credential).fetch() is True
    # The key lived in a private directory of the command only.
    assert not list(tmp_path.glob("data/**/id_key"))


def test_another_key_is_refused(repo, ssh_server, tmp_path):
    server, _ = ssh_server
    ssh_keygen(tmp_path / "id_other", "someone-else")
    other = (tmp_path / "id_other").read_text()
    mirror = Mirror("shop", server.serve(repo), GitCredential.ssh_key(other, server.known_hosts_line()))
    with pytest.raises(GitError) as caught:
        mirror.fetch()
    assert caught.value.reason == AUTH_FAILED
    assert caught.value.field == "git_credential"
    assert "PRIVATE KEY" not in str(caught.value)
    assert all(line not in str(caught.value) for line in other.splitlines()[1:-1])


def test_an_unknown_host_key_is_refused(repo, ssh_server):
    server, key = ssh_server
    mirror = Mirror("shop", server.serve(repo), GitCredential.ssh_key(key.read_text(), known_hosts=""))
    with pytest.raises(GitError) as caught:
        mirror.fetch()
    assert caught.value.reason == UNKNOWN_HOST_KEY
    assert caught.value.field == "git_known_hosts"


def test_a_changed_host_key_is_refused(repo, ssh_server):
    server, key = ssh_server
    url = server.serve(repo)
    credential = GitCredential.ssh_key(key.read_text(), server.known_hosts_line())
    Mirror("shop", url, credential).fetch()
    server.change_host_key()  # a reinstalled server, or someone in between
    with pytest.raises(GitError) as caught:
        Mirror("shop", url, credential).fetch()
    assert caught.value.reason == CHANGED_HOST_KEY
