"""Which URLs and refs reach git at all: the allowed forms pass unchanged, everything else is a
ValidationError naming the field, with a message saying what to do."""

from __future__ import annotations

import pytest

from playdeck.errors import ValidationError
from playdeck.git import check_ref, check_url

GOOD_URLS = [
    "https://git.example.test/team/shop.git",
    "https://git.example.test:8443/shop",
    "ssh://git@git.example.test/team/shop.git",
    "ssh://git@git.example.test:2222/~/shop.git",
    "ssh://[2001:db8::1]:22/shop.git",
    "git@github.com:team/shop.git",
    "deploy.bot@10.0.0.5:/srv/git/shop.git",
]

BAD_URLS = [
    ("--upload-pack=touch /tmp/x", "start with '-'"),
    ("-c core.sshCommand=touch", "start with '-'"),
    ("ext::sh -c touch% /tmp/x", "spaces"),
    ("ext::sh", "transport::address"),
    ("fd::3", "transport::address"),
    ("http://git.example.test/shop.git", "https://"),
    ("ftp://git.example.test/shop.git", "not allowed"),
    ("https://deploy:s3cret@git.example.test/shop.git", "credential"),
    ("https://deploy@git.example.test/shop.git", "credential"),
    ("ssh://git:pw@git.example.test/shop.git", "password"),
    ("ssh://-oProxyCommand=touch%20x/shop", "host"),
    ("ssh://git@-oProxyCommand=x/shop", "host"),
    ("-oProxyCommand=x@host:shop", "start with '-'"),
    ("git@host:-shop.git", "must not start with '-'"),
    ("https://git.example.test/shop.git\nx", "spaces"),
    ("https://git.example.test/sh\top.git", "spaces"),
    ("https://git.example.test/shop.git?upload-pack=x", "'?'"),
    ("https://git.example.test/", "no repository path"),
    ("https:///shop.git", "no host"),
    ("/srv/git/shop.git", "not a repository URL"),
    ("file:///srv/git/shop.git", "administrators"),
    ("", "required"),
]


@pytest.mark.parametrize("url", GOOD_URLS)
def test_allowed_urls_pass(url):
    assert check_url(url) == url


@pytest.mark.parametrize(("url", "message"), BAD_URLS)
def test_refused_urls_name_the_field(url, message):
    with pytest.raises(ValidationError) as caught:
        check_url(url)
    assert caught.value.field == "git_url"
    assert message in caught.value.message


def test_a_trailing_newline_is_trimmed_not_kept():
    # A form's stray whitespace around the URL is removed; nothing of it reaches git.
    assert check_url("  https://git.example.test/shop.git\n") == "https://git.example.test/shop.git"


def test_file_urls_only_for_administrators():
    assert check_url("file:///srv/git/shop.git", allow_file=True) == "file:///srv/git/shop.git"
    with pytest.raises(ValidationError):
        check_url("file://otherhost/srv/git/shop.git", allow_file=True)
    with pytest.raises(ValidationError):
        check_url("file:///-shop.git", allow_file=True)


GOOD_REFS = ["main", "release/2.0", "v1.4.2", "feature/JIRA-12_x", "a1b2c3d", "0" * 40, "f" * 64, "refs/tags/v1"]
BAD_REFS = [
    "--upload-pack=touch /tmp/x",
    "-c",
    "-ccore.sshCommand=touch",
    "ext::sh -c touch",
    "a..b",
    "main@{1}",
    "@",
    "HEAD~1",
    "HEAD^",
    "a:b",
    "what?",
    "a*",
    "a[1]",
    "a\\b",
    "with space",
    "tab\there",
    "nl\nx",
    "/main",
    "main/",
    "a//b",
    "main.",
    "main.lock",
    "a/.hidden",
    ".hidden",
    "x" * 256,
    "",
]


@pytest.mark.parametrize("ref", GOOD_REFS)
def test_valid_refs_pass(ref):
    assert check_ref(ref) == ref


@pytest.mark.parametrize("ref", BAD_REFS)
def test_invalid_refs_are_refused(ref):
    with pytest.raises(ValidationError) as caught:
        check_ref(ref)
    assert caught.value.field == "ref"
