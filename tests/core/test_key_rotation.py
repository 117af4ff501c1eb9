"""Rotating PLAYDECK_SECRET_KEY (``playdeck secret reencrypt``): after it, the old key can go and everything sealed
still opens — project secrets, webhook and destination signing secrets, the stored OpenID Connect client secret,
a queued run's secret launch inputs. A value no key opens stops it before anything changes."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from playdeck import db, key_rotation, launch_inputs, secrets, signing, webhooks
from playdeck.auth.sso import client_secret
from playdeck.models import AuditEvent, Environment, Project, Run, Secret, Webhook
from playdeck.notifications import destinations
from playdeck.notifications.models import NotificationDestination
from playdeck.secrets import VAULT_PASSWORD, SecretKeyError
from tests.cli.cli_support import playdeck
from tests.conftest import use_key

VAULT = "vault-password-0123456789"
HOOK_SECRET = "hook-signing-secret-0123456789abcdef"
DESTINATION_SECRET = "destination-signing-secret-0123456789"
OIDC_SECRET = "oidc-client-secret-0123456789"
LAUNCH_INPUT = {"db_password": "launch-time-pässword"}


def _seal_one_of_each() -> int:
    """A value in every sealed column; the queued run's id."""
    with db.session_scope() as session:
        secrets.set_secret(session, "sampleapp", "staging", VAULT_PASSWORD, VAULT, "alice")
        webhooks.create_webhook(session, "sampleapp", "https://hooks.example.com/deploys", secret=HOOK_SECRET)
        destinations.create(session, "audit-feed", "json", url="https://feed.example.com/in", secret=DESTINATION_SECRET)
        client_secret.set_secret(session, OIDC_SECRET, who="admin")
        project = session.scalar(select(Project).where(Project.name == "sampleapp"))
        environment = session.scalar(select(Environment).where(Environment.project_id == project.id))
        run = Run(project=project, environment=environment, state="queued", requested_by="alice")
        session.add(run)
        session.flush()
        run.secret_var_names_json = json.dumps(sorted(LAUNCH_INPUT))
        run.secret_vars_sealed = launch_inputs.seal(run.id, LAUNCH_INPUT)
        return run.id


def _project_secret(session, run_id: int) -> object:
    project_id, environment_id = session.execute(select(Secret.project_id, Secret.environment_id)).one()
    return secrets.secrets_for_run(session, project_id, environment_id).vault_password


def _webhook_secret(session, run_id: int) -> object:
    hook = session.scalar(select(Webhook))
    return signing.unseal("webhook", hook.id, hook.secret_ciphertext)


def _destination_secret(session, run_id: int) -> object:
    destination = session.scalar(select(NotificationDestination))
    return signing.unseal("destination", destination.id, destination.secret_ciphertext)


# Each sealed value, opened with the key configured now.
OPENERS = {
    "project": _project_secret,
    "webhook": _webhook_secret,
    "destination": _destination_secret,
    "oidc": lambda session, run_id: client_secret.stored_secret(session),
    "launch": launch_inputs.secret_inputs_for_run,
}


def _opened(run_id: int) -> dict[str, object]:
    with db.session_scope() as session:
        return {name: opener(session, run_id) for name, opener in OPENERS.items()}


EXPECTED = {"project": VAULT, "webhook": HOOK_SECRET, "destination": DESTINATION_SECRET, "oidc": OIDC_SECRET,
            "launch": LAUNCH_INPUT}  # fmt: skip


@pytest.fixture
def old_key(embedded, monkeypatch):
    key = Fernet.generate_key().decode()
    use_key(monkeypatch, key)
    return key


def test_after_reencrypt_the_old_key_can_go(old_key, monkeypatch):
    run_id = _seal_one_of_each()
    new = Fernet.generate_key().decode()
    use_key(monkeypatch, f"{new},{old_key}")
    result = playdeck("secret", "reencrypt")
    assert result.returncode == 0, result.stderr
    assert "5 values re-encrypted" in result.stdout
    use_key(monkeypatch, new)
    assert _opened(run_id) == EXPECTED
    with db.session_scope() as session:
        details = session.scalars(select(AuditEvent.details_json).where(AuditEvent.action == "secret.reencrypt")).one()
    assert json.loads(details) == dict.fromkeys((c.name for c in key_rotation.SEALED_COLUMNS), 1)


def test_without_reencrypt_dropping_the_old_key_loses_them(old_key, monkeypatch):
    # What the command prevents: each kind is really sealed with the key (this fails if one is left out).
    run_id = _seal_one_of_each()
    use_key(monkeypatch, Fernet.generate_key().decode())
    for name, opener in OPENERS.items():
        with pytest.raises(SecretKeyError), db.session_scope() as session:
            opener(session, run_id)
            pytest.fail(f"{name} opened without its key")


def test_a_value_no_key_opens_stops_it_before_anything_changes(old_key, monkeypatch):
    run_id = _seal_one_of_each()
    stranger = Fernet(Fernet.generate_key()).encrypt(b'{"destination_id": 1, "value": "x"}').decode()
    with db.session_scope() as session:
        session.execute(update(NotificationDestination).values(secret_ciphertext=stranger))
        before = session.scalar(select(Secret.ciphertext))
    new = Fernet.generate_key().decode()
    use_key(monkeypatch, f"{new},{old_key}")
    result = playdeck("secret", "reencrypt")
    assert result.returncode != 0
    assert "notification destination signing secrets" in result.stderr and "cannot be decrypted" in result.stderr
    with db.session_scope() as session:
        assert session.scalar(select(Secret.ciphertext)) == before
    use_key(monkeypatch, old_key)
    with db.session_scope() as session:
        assert launch_inputs.secret_inputs_for_run(session, run_id) == LAUNCH_INPUT


def test_a_run_that_ends_meanwhile_keeps_its_inputs_cleared(old_key, monkeypatch):
    run_id = _seal_one_of_each()
    use_key(monkeypatch, f"{Fernet.generate_key().decode()},{old_key}")
    with db.session_scope() as session:
        fernet = secrets.cipher()
        sealed = key_rotation.SEALED_COLUMNS[-1]
        rotated = key_rotation.rotated_tokens(session, fernet, sealed)
    with db.session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(secret_vars_sealed=None))
    with db.session_scope() as session:
        key_rotation.write_rotated(session, sealed, rotated)
    with db.session_scope() as session:
        assert session.scalar(select(Run.secret_vars_sealed).where(Run.id == run_id)) is None
