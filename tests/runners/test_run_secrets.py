"""A run given a project's secrets, for real: a vault-encrypted variable decrypted with the vault password, the
SSH key in the run's ssh-agent, the become password answering Ansible's prompt. Afterwards no plaintext secret
is anywhere Playdeck writes: the DB, the worker's log, the run's private data dir; the files that held them
are gone. A project with secrets and no usable key ends in error, saying why."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets as random
import stat
import textwrap
import threading
from pathlib import Path
from urllib.parse import unquote, unquote_plus

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible_runner.utils import open_fifo_write
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select

from playdeck import db, projects, webhooks
from playdeck import secrets as project_secrets
from playdeck.masking import REDACTED
from playdeck.models import Base, RunEvent
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from playdeck.secrets import BECOME_PASSWORD, SSH_KEY, VAULT_PASSWORD, RunSecrets
from playdeck.settings import get_settings
from runners import execution, playbook_run, retention, secret_files
from tests.conftest import queue_run, use_key, wait_for_state, web_client

ENDED = {"successful", "failed", "error", "canceled", "timeout", "lost"}
CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"


@pytest.fixture
def secret_key(test_playbooks, monkeypatch) -> str:
    """MariaDB + Redis, the project "vaulted" (secrets.yml on two local hosts), a key in the environment
    (which the workers started afterwards inherit)."""
    key = Fernet.generate_key().decode()
    use_key(monkeypatch, key)
    with db.session_scope() as session:
        projects.add_project(session, "vaulted", "secrets.yml", {"dev": "local2.ini"})
    return key


class Plaintexts:
    """Fresh secrets for one test, and what must never be found written down."""

    def __init__(self) -> None:
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.ssh_key = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode()
        self.public_key = (
            self.key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        ).decode()
        self.become_password = f"become-{random.token_urlsafe(12)}"
        self.vault_password = f"vault-{random.token_urlsafe(12)}"
        self.vaulted_value = f"db-password-{random.token_urlsafe(12)}"

    @property
    def key_body(self) -> list[str]:
        lines = [line for line in self.ssh_key.splitlines() if "-----" not in line]
        return ["".join(lines), *lines]

    def needles(self, secret_key: str) -> dict[str, str]:
        found = {
            "become password": self.become_password,
            "vault password": self.vault_password,
            "decrypted vault value": self.vaulted_value,
            "PLAYDECK_SECRET_KEY": secret_key,
        }
        found.update({f"SSH key body [{i}]": part for i, part in enumerate(self.key_body)})
        return found

    def vars_file(self, path: Path, vault_password: str | None = None) -> Path:
        vault = VaultLib([("default", VaultSecret((vault_password or self.vault_password).encode()))])
        ciphertext = vault.encrypt(self.vaulted_value).decode()
        path.write_text("vaulted_value: !vault |\n" + textwrap.indent(ciphertext, "  "))
        return path


def set_all(plain: Plaintexts) -> None:
    with db.session_scope() as session:
        project_secrets.set_secret(session, "vaulted", None, SSH_KEY, plain.ssh_key, "alice")
        project_secrets.set_secret(session, "vaulted", None, VAULT_PASSWORD, plain.vault_password, "alice")
        # The environment's own secret (a wrong project-wide one must lose).
        project_secrets.set_secret(session, "vaulted", None, BECOME_PASSWORD, "project-wide-loses", "alice")
        project_secrets.set_secret(session, "vaulted", "dev", BECOME_PASSWORD, plain.become_password, "alice")


def submit(plain: Plaintexts, tmp_path: Path, vars_file: Path) -> int:
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    extra_vars = {
        "secret_vars_file": str(vars_file),
        "out_dir": str(out_dir),
        "expected_public_key": plain.public_key,
        "expected_become_sha256": hashlib.sha256(plain.become_password.encode()).hexdigest(),
    }
    return queue_run(RunRequest(project="vaulted", environment="dev", extra_vars=extra_vars)).id


def db_text() -> str:
    """Every row of every table, as text."""
    with db.session_scope() as session:
        return "\n".join(
            repr(tuple(row)) for table in Base.metadata.sorted_tables for row in session.execute(select(table))
        )


def files_under(root: Path) -> dict[str, bytes]:
    found = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if stat.S_ISREG(path.lstat().st_mode):
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


def leaks(needles: dict[str, str], places: dict[str, str | bytes]) -> list[str]:
    found = []
    for where, content in places.items():
        for what, needle in needles.items():
            forms = {needle, json.dumps(needle)[1:-1]}
            if isinstance(content, bytes):
                hit = any(form.encode() in content for form in forms)
            else:
                hit = any(form in content for form in forms)
            if hit:
                found.append(f"{what} in {where}")
    return found


def secret_files_in(data_dir: Path) -> list[str]:
    candidates = [data_dir / "env" / name for name in secret_files.SECRET_FILES]
    candidates += list((data_dir / "artifacts").glob(f"*/{secret_files.SSH_KEY_FIFO}"))
    return [str(path) for path in candidates if path.exists() or path.is_symlink()]


def test_a_run_uses_its_secrets_and_leaves_no_plaintext_behind(secret_key, start_worker, tmp_path):
    plain = Plaintexts()
    set_all(plain)
    worker = start_worker()

    run_id = submit(plain, tmp_path, plain.vars_file(tmp_path / "vaulted.yml"))
    assert wait_for_state(run_id, ENDED) == "successful", _reason(run_id)
    # Nothing was left running: the run's ssh-agent (holding the key) ended with it, quietly.
    assert _reason(run_id) == ""
    # The vault variable was decrypted (the value reached the hosts through a no_log task); the SSH key was
    # in the agent and the become password reached Ansible (asserted by the playbook itself).
    assert {p.name: p.read_text() for p in (tmp_path / "out").iterdir()} == {
        "host1.vaulted": plain.vaulted_value,
        "host2.vaulted": plain.vaulted_value,
    }
    with db.session_scope() as session:
        stored = session.scalars(select(RunEvent).where(RunEvent.run_id == run_id)).all()
    shown = [e for e in stored if e.task == "Show the decrypted vault value" and e.event == "runner_on_ok"]
    assert len(shown) == 2 and all(e.event_data["res"] == {"censored": CENSORED} for e in shown)

    data_dir = get_settings().runs_dir / str(run_id) / "attempt-1"
    assert secret_files_in(data_dir) == []
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    # The rest of the artifacts is kept; the command shows how the secrets were passed, not what they are.
    command = json.loads((data_dir / "artifacts" / "artifacts" / "command").read_text())
    assert "--ask-become-pass" in command["command"][-1] and "--vault-password-file" in command["command"][-1]
    assert command["command"][0] == "ssh-agent"
    hidden = playbook_run.HIDDEN_ENV
    assert {name: command["env"][name] for name in hidden} == dict.fromkeys(hidden, "")
    assert (data_dir / "env" / "extravars").is_file()

    # A second run whose vault text was encrypted with another password fails: its files go all the same.
    failing = submit(plain, tmp_path, plain.vars_file(tmp_path / "other.yml", vault_password="another-password"))
    assert wait_for_state(failing, ENDED) == "failed", _reason(failing)
    # The failing task handled the vault value, so no_log hides even its error message.
    assert re.fullmatch(
        r"ansible-playbook exited with rc 2; first failure: host[12]: Handle the decrypted vault value: failed",
        _reason(failing),
    )
    assert secret_files_in(get_settings().runs_dir / str(failing) / "attempt-1") == []

    places: dict[str, str | bytes] = {"the DB": db_text(), "the worker's log": worker.output()}
    places.update({f"data dir: {name}": content for name, content in files_under(get_settings().data_dir).items()})
    assert len(places) > 20  # artifacts, events, env files of both runs
    assert leaks(plain.needles(secret_key), places) == []


def decodings(text: str) -> list[str]:
    """``text`` and what its base64 and hex runs decode to (at every alignment), its URL escapes undone."""
    found = [text, unquote(text), unquote_plus(text)]
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}", text):
        for start in range(4):
            piece = run[start:].replace("-", "+").replace("_", "/")
            found.append(base64.b64decode(piece[: len(piece) // 4 * 4]).decode("utf-8", "replace"))
    for run in re.findall(r"[0-9A-Fa-f]{8,}", text):
        for start in range(2):
            piece = run[start:]
            found.append(bytes.fromhex(piece[: len(piece) // 2 * 2]).decode("utf-8", "replace"))
    return found


def shows(secret: str, text: str) -> bool:
    """True if ``text`` shows ``secret`` but for its first and last two characters, in any form the playbook
    printed it: as written, JSON-escaped, reversed, URL-encoded, base64 or hex."""
    middle = secret[2:-2]
    forms = {middle, middle[::-1], json.dumps(middle)[1:-1], json.dumps(middle[::-1])[1:-1]}
    return any(form in decoded for decoded in decodings(text) for form in forms)


def test_a_secret_printed_encoded_is_masked_everywhere(secret_key, start_worker, tmp_path):
    """A playbook that reads its vault password and prints it reversed, as hex, URL-encoded and base64'd
    (alone, and inside a longer text) leaves it nowhere: the events, the reason, the webhook payload, the
    artifacts on disk, the API's answers."""
    password = f'vault "pw"/ä+{random.token_urlsafe(9)}'
    with db.session_scope() as session:
        projects.add_project(session, "printing", "print_secret.yml", {"dev": "local2.ini"})
        project_secrets.set_secret(session, "printing", None, VAULT_PASSWORD, password, "alice")
        webhooks.create_webhook(session, "printing", "https://hooks.example.com/playdeck", who="alice")
    worker = start_worker()
    extra_vars = {"runs_dir": str(get_settings().runs_dir)}
    run_id = queue_run(RunRequest(project="printing", environment="dev", extra_vars=extra_vars)).id
    assert wait_for_state(run_id, ENDED) == "failed", _reason(run_id)

    # It was printed: the masks are where it was.
    assert re.fullmatch(
        r"ansible-playbook exited with rc 2; first failure: host[12]: Fail with it: the password is \*{8} or \*{8}",
        _reason(run_id),
    )
    with db.session_scope() as session:
        stored = session.scalars(select(RunEvent).where(RunEvent.run_id == run_id)).all()
    printed = [e.event_data["res"]["msg"] for e in stored if e.task == "Print it encoded" and e.event == "runner_on_ok"]
    assert len(printed) == 2 and all(REDACTED in text for msg in printed for text in msg.values()), printed
    client = web_client()
    answers = {
        f"API {path}": client.get(path).get_data(as_text=True)
        for path in (f"/api/v1/runs/{run_id}", f"/api/v1/runs/{run_id}/events", f"/runs/{run_id}")
    }
    assert "********" in answers[f"API /api/v1/runs/{run_id}"]
    places: dict[str, str] = {"the DB": db_text(), "the worker's log": worker.output(), **answers}
    data_dir = get_settings().runs_dir / str(run_id) / "attempt-1"
    places.update(
        {f"data dir: {name}": content.decode("utf-8", "replace") for name, content in files_under(data_dir).items()}
    )
    assert REDACTED in places["data dir: artifacts/artifacts/stdout"]
    assert "Fail with it: the password is ********" in places["the DB"]  # the webhook's payload among others
    assert [where for where, text in places.items() if shows(password, text)] == []


def _reason(run_id: int) -> str:
    with db.session_scope() as session:
        return get_run(session, run_id).reason


@pytest.mark.parametrize("configured", ["unset", "wrong key"])
def test_a_project_with_secrets_and_no_usable_key_ends_in_error(secret_key, monkeypatch, tmp_path, configured):
    plain = Plaintexts()
    set_all(plain)
    use_key(monkeypatch, None if configured == "unset" else Fernet.generate_key().decode())
    run_id = submit(plain, tmp_path, plain.vars_file(tmp_path / "vaulted.yml"))

    # In this process, as a worker's pool process would (no playbook starts).
    assert execution.execute(run_id).state == RunState.ERROR
    reason = _reason(run_id)
    if configured == "unset":
        assert reason.startswith("project 'vaulted' has secrets (become_password, ssh_key, vault_password) but")
        assert "PLAYDECK_SECRET_KEY is not set" in reason
    else:
        assert "PLAYDECK_SECRET_KEY is not the key it was encrypted with" in reason
    assert not (get_settings().runs_dir / str(run_id)).exists()


# --- the pieces, without Ansible -------------------------------------------------------------------------


def test_removal_deletes_secret_files_drains_an_unread_fifo_and_masks_kept_files(tmp_path):
    plain = Plaintexts()
    secrets = RunSecrets(ssh_key=plain.ssh_key, become_password=plain.become_password, vault_password="vault-pw-1")
    data_dir = tmp_path / "run"
    data_dir.mkdir(mode=0o700)
    staged = secret_files.stage(data_dir, secrets)
    vault_file = data_dir / "env" / secret_files.VAULT_FILE
    assert staged.cmdline == ["--vault-password-file", str(vault_file), "--ask-become-pass"]
    assert staged.passwords == {secret_files.BECOME_PROMPT: plain.become_password}
    assert stat.S_IMODE(vault_file.stat().st_mode) == 0o600 and vault_file.read_text() == "vault-pw-1\n"
    assert stat.S_IMODE((data_dir / "env").stat().st_mode) == 0o700
    # ansible-runner's key FIFO when ssh-agent never read it: its writer thread waits for a reader.
    artifacts = data_dir / "artifacts" / "artifacts"
    artifacts.mkdir(parents=True)
    before = set(threading.enumerate())
    open_fifo_write(str(artifacts / secret_files.SSH_KEY_FIFO), plain.ssh_key)
    (writer,) = set(threading.enumerate()) - before
    # What ansible-runner would have written had it not been told to keep these in memory.
    (data_dir / "env" / "passwords").write_text(json.dumps(staged.passwords))
    (data_dir / "env" / "ssh_key").write_text(plain.ssh_key)
    # A kept file a secret leaked into (the playbook printed it), and an event file (masked on arrival).
    (artifacts / "stdout").write_text(f"the password is {plain.become_password}\n")
    (artifacts / "job_events").mkdir()
    (artifacts / "job_events" / "1-x.json").write_text("{}")

    masked = secret_files.remove(data_dir, secrets)

    writer.join(timeout=5)
    assert not writer.is_alive()
    assert secret_files_in(data_dir) == []
    assert masked == ["artifacts/artifacts/stdout"]
    assert (artifacts / "stdout").read_text() == "the password is ********\n"
    assert leaks(plain.needles("-"), files_under(data_dir)) == []


def test_stage_without_secrets_changes_nothing(tmp_path):
    assert secret_files.stage(tmp_path, RunSecrets()) == secret_files.Staged()
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_ended_runs_are_removed_not_those_of_running_ones(embedded):
    def run_with_leftover(finished: bool) -> Path:
        with db.session_scope() as session:
            run_id = request_run(session, RunRequest(project="sampleapp", environment="staging")).id
            claim_run(session, run_id, "host", 1)
            if finished:
                finish_run(session, run_id, RunState.LOST, reason="worker died")
        vault_file = embedded.runs_dir / str(run_id) / "attempt-1" / "env" / secret_files.VAULT_FILE
        vault_file.parent.mkdir(parents=True)
        vault_file.write_text("left behind")
        return vault_file

    ended, running = run_with_leftover(True), run_with_leftover(False)
    assert retention.remove_secret_leftovers(embedded) == [int(ended.parts[-4])]
    assert not ended.exists() and running.exists()
