"""`playdeck secret set|list|delete`: the value comes from stdin only, is stored encrypted, never printed;
bad input and a missing key are refused with exit 2 or 4 and a message, nothing stored."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from playdeck import db
from playdeck.models import Secret
from tests.cli.cli_support import playdeck
from tests.conftest import use_key

PASSWORD = "s3cret become password"


@pytest.fixture
def keyed(embedded, monkeypatch) -> None:
    use_key(monkeypatch, Fernet.generate_key().decode())


def test_a_secret_is_set_from_stdin_listed_masked_and_deleted(keyed):
    made = playdeck("secret", "set", "sampleapp", "become_password", "-e", "production", input=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert "become_password of sampleapp (production) set" in made.stdout
    with db.session_scope() as session:
        stored = session.scalar(select(Secret.ciphertext))
    assert PASSWORD not in stored
    listed = playdeck("secret", "list", "sampleapp")
    assert listed.returncode == 0 and "production" in listed.stdout and PASSWORD not in listed.stdout
    assert playdeck("secret", "delete", "sampleapp", "become_password", "-e", "production").returncode == 0
    assert "No secrets for sampleapp" in playdeck("secret", "list", "sampleapp").stdout


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["sampleapp", "ssh_key"], "not a key", "not an SSH private key"),
        (["sampleapp", "become_password"], "\n", "password"),
        (["nosuch", "become_password"], PASSWORD, "nosuch"),
        (["sampleapp", "become_password", "-e", "nosuch"], PASSWORD, "nosuch"),
        (["sampleapp", "root_password"], PASSWORD, "root_password"),
    ],
)
def test_bad_secrets_are_refused_and_nothing_is_stored(keyed, args, stdin, says):
    refused = playdeck("secret", "set", *args, input=stdin)
    assert refused.returncode != 0 and says in refused.stderr + refused.stdout
    with db.session_scope() as session:
        assert session.scalar(select(Secret.id)) is None


def test_without_a_key_the_cli_says_what_to_set(embedded, monkeypatch):
    use_key(monkeypatch, None)
    refused = playdeck("secret", "set", "sampleapp", "become_password", input=PASSWORD)
    assert refused.returncode != 0 and "PLAYDECK_SECRET_KEY" in refused.stderr
