"""Project secrets: encrypted at rest with the key from the environment, shown masked, validated, audited
without their value; an environment's secret overrides the project-wide one; a missing or wrong key is
a clear error. (End to end, through a real run: tests/runners/test_run_secrets.py.)"""

from __future__ import annotations

import json
import subprocess
import threading

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select, text

from playdeck import audit, db, key_rotation, projects, secrets
from playdeck.errors import NotFound, ValidationError
from playdeck.models import Environment, Project, Secret
from playdeck.secrets import BECOME_PASSWORD, SSH_KEY, VAULT_PASSWORD, RunSecrets, SecretKeyError
from tests.conftest import use_key

BECOME = "become-pässword with spaces & 'quotes'"
VAULT = "vault-password-0123456789"


def openssh_key() -> str:
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
        .decode()
    )


@pytest.fixture
def keyed(embedded, monkeypatch):
    """The embedded install with a secret key configured."""
    key = Fernet.generate_key().decode()
    use_key(monkeypatch, key)
    return key


def ids(project: str = "sampleapp", environment: str = "staging") -> tuple[int, int]:
    with db.session_scope() as session:
        row = session.execute(
            select(Project.id, Environment.id)
            .join(Environment, Environment.project_id == Project.id)
            .where(Project.name == project, Environment.name == environment)
        ).one()
        return row[0], row[1]


def for_run(environment: str = "staging") -> RunSecrets:
    with db.session_scope() as session:
        return secrets.secrets_for_run(session, *ids(environment=environment))


def stored_text() -> str:
    """Every secrets and audit row as the DB holds it."""
    with db.session_scope() as session:
        rows = (
            session.execute(text("SELECT * FROM secrets")).all()
            + session.execute(text("SELECT * FROM audit_events")).all()
        )
    return "\n".join(repr(tuple(row)) for row in rows)


def test_round_trip_and_the_db_holds_only_ciphertext(keyed):
    key = openssh_key()
    with db.session_scope() as session:
        secrets.set_secret(session, "sampleapp", None, SSH_KEY, key, "alice")
        secrets.set_secret(session, "sampleapp", None, BECOME_PASSWORD, BECOME, "alice")
        secrets.set_secret(session, "sampleapp", None, VAULT_PASSWORD, VAULT, "alice")

    got = for_run()
    assert (got.ssh_key, got.become_password, got.vault_password) == (key.strip() + "\n", BECOME, VAULT)
    stored = stored_text()
    body = "".join(line for line in key.splitlines() if "-----" not in line)
    for plaintext in (BECOME, VAULT, body, *body.splitlines(), keyed):
        assert plaintext not in stored
    with db.session_scope() as session:
        for secret in session.scalars(select(Secret)):
            assert secret.ciphertext.startswith("gAAAA")  # a Fernet token
    # Neither repr nor str of the run's secrets shows a value.
    assert repr(got) == "RunSecrets(ssh_key, become_password, vault_password)"
    assert BECOME not in str(got) and VAULT not in f"{got!r}"


def test_listing_is_masked(keyed, monkeypatch):
    with db.session_scope() as session:
        secrets.set_secret(session, "sampleapp", "production", VAULT_PASSWORD, VAULT, "alice")
        secrets.set_secret(session, "sampleapp", None, BECOME_PASSWORD, BECOME, "bob")
    with db.session_scope() as session:
        listed = secrets.list_secrets(session, "sampleapp")
    dumped = json.dumps([view.to_dict() for view in listed])
    assert VAULT not in dumped and BECOME not in dumped and "gAAAA" not in dumped
    assert [(v["kind"], v["scope"], v["environment"], v["value"], v["updated_by"]) for v in json.loads(dumped)] == [
        ("become_password", "project", None, secrets.MASK, "bob"),
        ("vault_password", "environment", "production", secrets.MASK, "alice"),
    ]
    # Listing needs no key.
    use_key(monkeypatch, None)
    with db.session_scope() as session:
        assert len(secrets.list_secrets(session, "sampleapp")) == 2


def test_an_environments_secret_overrides_the_project_wide_one(keyed):
    with db.session_scope() as session:
        secrets.set_secret(session, "sampleapp", None, VAULT_PASSWORD, "project-wide-vault", "alice")
        secrets.set_secret(session, "sampleapp", None, BECOME_PASSWORD, "project-wide-become", "alice")
        secrets.set_secret(session, "sampleapp", "production", VAULT_PASSWORD, "production-vault", "alice")
    staging, production = for_run("staging"), for_run("production")
    assert (staging.vault_password, staging.become_password) == ("project-wide-vault", "project-wide-become")
    assert (production.vault_password, production.become_password) == ("production-vault", "project-wide-become")
    assert production.ssh_key is None and production.kinds == [BECOME_PASSWORD, VAULT_PASSWORD]

    with db.session_scope() as session:
        secrets.delete_secret(session, "sampleapp", "production", VAULT_PASSWORD, "alice")
    assert for_run("production").vault_password == "project-wide-vault"


def test_setting_again_replaces_one_row_per_scope_and_kind(keyed):
    with db.session_scope() as session:
        secrets.set_secret(session, "sampleapp", None, VAULT_PASSWORD, "first-vault-pw", "alice")
        secrets.set_secret(session, "sampleapp", None, VAULT_PASSWORD, "second-vault-pw", "bob")
        secrets.set_secret(session, "sampleapp", "staging", VAULT_PASSWORD, "staging-vault-pw", "bob")
    with db.session_scope() as session:
        rows = session.execute(select(Secret.scope, Secret.environment_id, Secret.updated_by)).all()
    _, staging = ids()
    assert sorted(rows, key=lambda r: r.scope) == [("", None, "bob"), (str(staging), staging, "bob")]
    assert for_run("production").vault_password == "second-vault-pw"


def test_racing_project_wide_sets_leave_one_row_on_mariadb(production, monkeypatch):
    """A NULL environment_id would not be unique; the scope column is, so racing inserts converge on one row."""
    use_key(monkeypatch, Fernet.generate_key().decode())
    errors, barrier = [], threading.Barrier(6, timeout=30)
    lookup = projects.get_project

    def lookup_together(session, name):
        # Every request has looked the project up (in its own transaction) before any goes on.
        found = lookup(session, name)
        barrier.wait()
        return found

    monkeypatch.setattr(projects, "get_project", lookup_together)

    def set_it(value: str) -> None:
        try:
            with db.session_scope() as session:
                secrets.set_secret(session, "sampleapp", None, BECOME_PASSWORD, value, "racer")
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=set_it, args=(f"racing-password-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.session_scope() as session:
        assert len(session.scalars(select(Secret)).all()) == 1
    assert for_run().become_password.startswith("racing-password-")

    with pytest.raises(Exception, match="(?i)duplicate"), db.session_scope() as session:
        first = session.scalar(select(Secret))
        session.add(Secret(project_id=first.project_id, scope="", kind=BECOME_PASSWORD, ciphertext="x"))
        session.flush()


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (SSH_KEY, "not a key at all", "not an SSH private key"),
        (SSH_KEY, "", "an SSH private key is required"),
        (BECOME_PASSWORD, "", "1 to 4096 characters"),
        (BECOME_PASSWORD, "x" * 4097, "1 to 4096 characters"),
        (BECOME_PASSWORD, "nul\x00inside", "NUL"),
        (VAULT_PASSWORD, "two\nlines", "single line"),
        (VAULT_PASSWORD, " padded ", "whitespace"),
        ("api_token", "whatever-value", "kind: must be one of"),
    ],
)
def test_unusable_values_are_refused_without_quoting_them(keyed, kind, value, message):
    with pytest.raises(ValidationError, match=message) as raised, db.session_scope() as session:
        secrets.set_secret(session, "sampleapp", None, kind, value, "alice")
    if value.strip():
        assert value not in raised.value.message
    with db.session_scope() as session:
        assert session.scalar(select(Secret.id)) is None


def test_ssh_key_formats(keyed, tmp_path):
    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    locked_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
        .decode()
    )
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "passphrase", "-f", tmp_path / "k"], check=True)
    locked_openssh = (tmp_path / "k").read_text()
    with db.session_scope() as session:
        with pytest.raises(ValidationError, match="not an SSH private key"):
            secrets.set_secret(session, "sampleapp", None, SSH_KEY, public, "alice")
        for locked in (locked_pem, locked_openssh):
            with pytest.raises(ValidationError, match="passphrase"):
                secrets.set_secret(session, "sampleapp", None, SSH_KEY, locked, "alice")
        # PEM (PKCS#8 RSA) is accepted too; Windows line ends and a missing final newline are normalised.
        secrets.set_secret(session, "sampleapp", None, SSH_KEY, rsa_pem.strip().replace("\n", "\r\n"), "alice")
    assert for_run().ssh_key == rsa_pem


def test_unknown_project_or_environment(keyed):
    with db.session_scope() as session:
        with pytest.raises(NotFound, match="project 'nope'"):
            secrets.set_secret(session, "nope", None, VAULT_PASSWORD, VAULT, "alice")
        with pytest.raises(NotFound, match="no environment 'qa'"):
            secrets.set_secret(session, "sampleapp", "qa", VAULT_PASSWORD, VAULT, "alice")
        with pytest.raises(NotFound, match="no vault_password secret"):
            secrets.delete_secret(session, "sampleapp", None, VAULT_PASSWORD, "alice")


def test_without_a_key_nothing_can_be_set_or_used(embedded, monkeypatch):
    use_key(monkeypatch, None)
    with pytest.raises(SecretKeyError, match="PLAYDECK_SECRET_KEY is not set") as raised, db.session_scope() as s:
        secrets.set_secret(s, "sampleapp", None, VAULT_PASSWORD, VAULT, "alice")
    assert raised.value.status_code == 503 and "Fernet.generate_key" in raised.value.message
    # A project without secrets needs no key to run.
    assert not for_run()

    use_key(monkeypatch, Fernet.generate_key().decode())
    with db.session_scope() as session:
        secrets.set_secret(session, "sampleapp", None, VAULT_PASSWORD, VAULT, "alice")
    use_key(monkeypatch, None)
    with pytest.raises(SecretKeyError, match="project 'sampleapp' has secrets .* PLAYDECK_SECRET_KEY is not set"):
        for_run()
    use_key(monkeypatch, "not-a-fernet-key")
    with pytest.raises(SecretKeyError, match="not a valid Fernet key"):
        for_run()


def test_a_wrong_key_is_a_clear_error_and_rotation_works(keyed, monkeypatch):
    with db.session_scope() as session:
        secrets.set_secret(session, "sampleapp", "staging", VAULT_PASSWORD, VAULT, "alice")
    new = Fernet.generate_key().decode()
    use_key(monkeypatch, new)
    with pytest.raises(SecretKeyError, match="vault_password secret of project 'sampleapp' environment 'staging'"):
        for_run()
    with pytest.raises(SecretKeyError, match="not the key it was encrypted with"):
        for_run()

    # Rotation: new key first, the old one still decrypts; re-encrypt; then the old key can go.
    use_key(monkeypatch, f"{new},{keyed}")
    assert for_run().vault_password == VAULT
    with db.session_scope() as session:
        assert key_rotation.reencrypt_all(session)["project secrets"] == 1
    use_key(monkeypatch, new)
    assert for_run().vault_password == VAULT


def test_a_ciphertext_copied_to_another_row_is_refused(keyed):
    with db.session_scope() as session:
        secrets.set_secret(session, "sampleapp", "production", VAULT_PASSWORD, "production-vault", "alice")
        secrets.set_secret(session, "sampleapp", "staging", VAULT_PASSWORD, "staging-vault", "alice")
    with db.session_scope() as session:
        rows = {s.scope: s for s in session.scalars(select(Secret))}
        _, staging = ids()
        _, production = ids(environment="production")
        rows[str(staging)].ciphertext = rows[str(production)].ciphertext
    with pytest.raises(SecretKeyError, match="encrypted for another project, scope or kind"):
        for_run("staging")


def test_changes_are_audited_without_the_value(keyed):
    with audit.acting_as("carol", "10.0.0.7"), db.session_scope() as session:
        secrets.set_secret(session, "sampleapp", "production", BECOME_PASSWORD, BECOME, "carol")
        secrets.set_secret(session, "sampleapp", "production", BECOME_PASSWORD, BECOME + "2", "carol")
        secrets.delete_secret(session, "sampleapp", "production", BECOME_PASSWORD, "carol")
    with db.session_scope() as session:
        found, _ = audit.list_events(session, audit.AuditFilters(action="secret."))
    assert [(e.actor, e.address, e.action, e.target_type, e.target, e.details) for e in reversed(found)] == [
        ("carol", "10.0.0.7", "secret.set", "project", "sampleapp", {**_details(), "replaced": False}),
        ("carol", "10.0.0.7", "secret.set", "project", "sampleapp", {**_details(), "replaced": True}),
        ("carol", "10.0.0.7", "secret.delete", "project", "sampleapp", _details()),
    ]
    assert BECOME not in stored_text()


def _details() -> dict:
    return {"kind": BECOME_PASSWORD, "environment": "production"}


def test_redaction_of_known_secrets():
    key = openssh_key()
    run_secrets = RunSecrets(ssh_key=key, become_password=BECOME, vault_password="short")
    body_line = key.splitlines()[1]
    event = {
        "stdout": f"oops {BECOME} and {body_line}",
        "event_data": {"res": {"msg": json.dumps({"pw": BECOME}), "list": [VAULT, "short"]}},
    }
    assert run_secrets.redact_event(event)
    assert BECOME not in json.dumps(event) and body_line not in json.dumps(event)
    assert event["stdout"] == "oops ******** and ********"
    # Too short to mask without masking ordinary words; unknown values are left alone.
    assert event["event_data"]["res"]["list"] == [VAULT, "short"]
    assert not RunSecrets(become_password=BECOME).redact_event({"stdout": "nothing secret"})
