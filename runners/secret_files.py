"""A run's secrets on their way to Ansible: given for the run only, no copy left behind.

The run's private data dir is 0700 (``runners.preparation``). ansible-runner would write the passwords
and the SSH key it is given into ``env/passwords`` and ``env/ssh_key`` there; Playdeck starts it with
``suppress_env_files`` instead, so both stay in memory: the become password answers Ansible's
``--ask-become-pass`` prompt through pexpect, the SSH key reaches ssh-agent through a FIFO
(``artifacts/<ident>/ssh_key_data``) that the wrapper removes once ``ssh-add`` has read it. Only the vault
password is a file, 0600 in ``env/``, because Ansible reads it from one (``--vault-password-file``).

``remove``, in the run's ``finally``, deletes every one of those files (and drains a FIFO nobody read, so
ansible-runner's writer thread does not hang), then masks any known secret that still reached a file the run
keeps (``artifacts/<ident>/command``, ``stdout``): those stay for inspection until the retention prunes them.
The events themselves are masked as they arrive (``EventPump``). ``remove_leftovers`` does the deleting for
runs whose worker died before its ``finally``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shlex
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from playdeck.masking import Masker
from playdeck.secrets import RunSecrets

log = logging.getLogger(__name__)

# Ansible's prompt for -K/--ask-become-pass ("BECOME password: ", "BECOME password[defaults to SSH password]: ").
BECOME_PROMPT = r"^BECOME password.*:\s*?$"
VAULT_FILE = "vault-password"
# What ansible-runner writes in env/ when given secrets without suppress_env_files: removed if ever found.
RUNNER_SECRET_FILES = ("passwords", "ssh_key")
SSH_KEY_FIFO = "ssh_key_data"
SECRET_FILES = (VAULT_FILE, *RUNNER_SECRET_FILES)
# Under a run's data dir: what a worker that died mid-run may have left.
LEFTOVER_PATTERNS = (*(f"env/{name}" for name in SECRET_FILES), f"artifacts/*/{SSH_KEY_FIFO}")
# How long a FIFO nobody read is drained for: ansible-runner's writer writes the key as soon as it can open it.
DRAIN_SECONDS = 2.0


@dataclass(frozen=True)
class Staged:
    """What ansible_runner.run gets besides its usual arguments."""

    cmdline: list[str] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict, repr=False)
    ssh_key: str | None = field(default=None, repr=False)


def env_dir(data_dir: Path) -> Path:
    return data_dir / "env"


def stage(data_dir: Path, secrets: RunSecrets, vault_id: str = "") -> Staged:
    """Prepare ``secrets`` for ansible-runner; only the vault password touches the disk (0600 in env/).
    ``vault_id``: the label of the project's vault password (``--vault-id LABEL@file``)."""
    if not secrets:
        return Staged()
    cmdline: list[str] = []
    if secrets.vault_password:
        path = env_dir(data_dir) / VAULT_FILE
        path.parent.mkdir(mode=0o700, exist_ok=True)
        # O_EXCL: never write through a file (or symlink) that is already there.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(secrets.vault_password + "\n")
        cmdline += ["--vault-id", f"{vault_id}@{path}"] if vault_id else ["--vault-password-file", str(path)]
    passwords = {}
    if secrets.become_password:
        cmdline.append("--ask-become-pass")
        passwords[BECOME_PROMPT] = secrets.become_password
    return Staged(cmdline=cmdline, passwords=passwords, ssh_key=secrets.ssh_key)


def join_cmdline(args: list[str]) -> str | None:
    return shlex.join(args) if args else None


def remove(data_dir: Path, secrets: RunSecrets) -> list[str]:
    """Delete every file that held a secret of the run in ``data_dir``; mask known secrets in the files kept.
    Returns the kept files (relative) in which a secret had to be masked. Never raises (it runs in the run's
    ``finally``, before its events are flushed): a file it could not delete is logged, and the retention's
    ``remove_secret_leftovers`` tries again."""
    try:
        removed = _delete_secret_files(data_dir)
        masked = _mask_kept_files(data_dir, secrets) if secrets else []
    except Exception:
        log.exception("could not remove the secret files of %s", data_dir)
        return []
    if removed:
        log.debug("removed %d secret files from %s", len(removed), data_dir)
    for name in masked:
        # The file, never the secret: the log is no place for it either.
        log.warning("a secret of the run appeared in %s (%s); it was masked", name, data_dir)
    return masked


def remove_leftovers(run_dir: Path) -> list[Path]:
    """For a run whose worker died mid-run: delete the secret files of each of its attempts' data dirs."""
    removed = []
    if run_dir.is_dir():
        for attempt in run_dir.glob("attempt-*"):
            removed += _delete_secret_files(attempt)
    if removed:
        log.warning("removed %d secret files a dead worker left in %s", len(removed), run_dir)
    return removed


def _delete_secret_files(data_dir: Path) -> list[Path]:
    candidates = [env_dir(data_dir) / name for name in SECRET_FILES]
    artifacts = data_dir / "artifacts"
    if artifacts.is_dir():
        candidates += artifacts.glob(f"*/{SSH_KEY_FIFO}")
    removed = []
    for path in candidates:
        try:
            if stat.S_ISFIFO(path.lstat().st_mode):
                _drain(path)
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            # Each file on its own: one that cannot go must not keep the others.
            log.exception("could not remove the secret file %s", path)
            continue
        removed.append(path)
    return removed


def _drain(fifo: Path) -> None:
    """Read (and drop) what ansible-runner's thread waits to write into a FIFO ssh-agent never read: its
    open() blocks until a reader comes, forever otherwise."""
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        deadline = time.monotonic() + DRAIN_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            try:
                if not os.read(fd, 65536):
                    break  # the writer wrote everything and closed
            except BlockingIOError:
                continue
    finally:
        os.close(fd)


def _mask_kept_files(data_dir: Path, secrets: RunSecrets) -> list[str]:
    if not secrets.masker:
        return []
    masked = []
    for root, _dirs, files in os.walk(data_dir):
        in_job_events = Path(root).name == "job_events"
        for name in files:
            # Job events were masked before ansible-runner wrote them (EventPump); partial files were not.
            if in_job_events and not name.endswith("-partial.json"):
                continue
            path = Path(root) / name
            with contextlib.suppress(OSError):
                if _mask_file(path, secrets.masker):
                    masked.append(str(path.relative_to(data_dir)))
    return masked


def _mask_file(path: Path, masker: Masker) -> bool:
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        return False
    original = path.read_bytes()
    data = masker.mask_bytes(original)
    if data == original:
        return False
    temporary = path.with_name(f".{path.name}.masking")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, stat.S_IMODE(info.st_mode))
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(temporary, path)
    return True
