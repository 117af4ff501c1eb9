"""Git over HTTPS with a token: the right token fetches, a wrong one is "authentication failed" without the
token in any message; an untrusted certificate, a closed port and a silent server each get their reason."""

from __future__ import annotations

import base64
import time

import pytest

from playdeck.git import GitCredential, GitError, Mirror
from playdeck.git.errors import AUTH_FAILED, NOT_FOUND, TIMED_OUT, UNREACHABLE, UNTRUSTED_CERTIFICATE
from testing.git_servers import SilentServer
from tests.git.conftest import TOKEN


def test_the_right_token_fetches(repo, https_server):
    mirror = Mirror("shop", https_server.url("shop"), GitCredential.https("deploy", TOKEN))
    assert mirror.fetch() is True
    assert mirror.resolve("v1.0").sha == repo.head("v1.0")
    assert https_server.fetches() == 1 and https_server.refused() == 0


def test_a_wrong_token_is_refused_and_never_shown(repo, https_server, caplog):
    wrong = "wr0ng-t0ken-value"
    mirror = Mirror("shop", https_server.url("shop"), GitCredential.https("deploy", wrong))
    with pytest.raises(GitError) as caught:
        mirror.fetch()
    assert caught.value.reason == AUTH_FAILED
    assert caught.value.field == "git_credential"
    assert https_server.refused() >= 1
    text = f"{caught.value} {caught.value!r} {mirror!r} {mirror.credential!r} {caplog.text}"
    header = base64.b64encode(f"deploy:{wrong}".encode()).decode()
    assert wrong not in text and header not in text
    assert mirror.fetched_at() is None


def test_no_token_for_a_private_repository(repo, https_server):
    with pytest.raises(GitError) as caught:
        Mirror("shop", https_server.url("shop")).fetch()
    assert caught.value.reason == AUTH_FAILED


def test_a_missing_repository(repo, https_server):
    with pytest.raises(GitError) as caught:
        Mirror("shop", https_server.url("nope"), GitCredential.https("deploy", TOKEN)).fetch()
    assert caught.value.reason == NOT_FOUND


def test_a_certificate_no_configured_ca_signed_is_refused(repo, https_server, git_settings):
    git_settings(GIT_CA_FILE="")
    with pytest.raises(GitError) as caught:
        Mirror("shop", https_server.url("shop"), GitCredential.https("deploy", TOKEN)).fetch()
    assert caught.value.reason == UNTRUSTED_CERTIFICATE
    assert https_server.fetches() == 0


def test_an_unreachable_server(git_settings):
    closed = SilentServer()
    closed.close()
    with pytest.raises(GitError) as caught:
        Mirror("shop", f"https://127.0.0.1:{closed.port}/shop.git").fetch()
    assert caught.value.reason == UNREACHABLE
    assert caught.value.field == "git_url"


def test_a_server_that_never_answers_times_out(git_settings):
    git_settings(GIT_TIMEOUT="2")
    silent = SilentServer()
    started = time.monotonic()
    try:
        with pytest.raises(GitError) as caught:
            Mirror("shop", f"https://127.0.0.1:{silent.port}/shop.git").fetch()
    finally:
        silent.close()
    assert caught.value.reason == TIMED_OUT
    assert time.monotonic() - started < 15
