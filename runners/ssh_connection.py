"""How a run's playbook connects to its hosts over SSH: checked host keys, reused connections, pipelining.

Host keys: the environment's known hosts (``Environment.known_hosts``) are written to ``known_hosts`` in the
run's private data dir and are the only keys ssh accepts (``StrictHostKeyChecking=yes``, no global file, never
updated by ssh). A host whose key is missing or changed fails the run, with a reason that says so
(``explain_failure``); nothing here ever turns the check off.

Connection reuse: one ssh master per host (``ControlMaster``/``ControlPersist``) carries every task of the run,
and modules are piped to the interpreter (pipelining), so a 50-host deploy is not dominated by handshakes. The
masters' sockets live in ``cp/`` of the private data dir, named by Ansible with a 10-character hash: a unix
socket path must fit in 107 bytes, including the 17 characters ssh appends while it sets a master up. A data
dir too deep for that gets a private temporary directory instead. ``close`` ends the masters at the end of
the run, so they are not left to the leftover sweep.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from runners import processes

log = logging.getLogger(__name__)

KNOWN_HOSTS_FILE = "known_hosts"
CONTROL_DIR = "cp"
# sun_path holds 107 bytes and a NUL; Ansible's socket name is "/" + 10 hex, ssh's temporary one adds 17.
MAX_SOCKET_PATH = 107
SOCKET_NAME_CHARS = 1 + 10 + 17
# Only while the run lasts: close() ends the masters when the playbook is done.
CONTROL_PERSIST = "60s"
MASTER_EXIT_SECONDS = 5

CHANGED_MARK = "REMOTE HOST IDENTIFICATION HAS CHANGED"
UNKNOWN_MARKS = ("Host key verification failed", "host key is known for")


@dataclass(frozen=True)
class SshSetup:
    envvars: dict[str, str] = field(default_factory=dict)
    control_dir: Path | None = None
    # A directory outside the data dir (the data dir's path was too long for a socket): removed by close().
    temporary: bool = False


def prepare(data_dir: Path, known_hosts: str) -> SshSetup:
    """Write the run's known_hosts and return the environment variables that make Ansible use it."""
    known_hosts_file = data_dir / KNOWN_HOSTS_FILE
    known_hosts_file.write_text(known_hosts)
    control_dir = data_dir / CONTROL_DIR
    temporary = len(str(control_dir)) + SOCKET_NAME_CHARS > MAX_SOCKET_PATH
    if temporary:
        control_dir = Path(tempfile.mkdtemp(prefix="pd-ssh-"))
    else:
        control_dir.mkdir(mode=0o700)
    ssh_args = [
        # Ansible's own defaults, which ANSIBLE_SSH_ARGS replaces: one master connection per host.
        "-o", "ControlMaster=auto",
        "-o", f"ControlPersist={CONTROL_PERSIST}",
        # ssh takes the first value it sees for an option: these come before anything an inventory adds.
        "-o", f"UserKnownHostsFile={known_hosts_file}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UpdateHostKeys=no",
        # A target that vanishes mid-run is noticed within 45 s instead of TCP's 15 minutes.
        "-o", "ServerAliveInterval=15",
        "-o", "ServerAliveCountMax=3",
    ]  # fmt: skip
    envvars = {
        "ANSIBLE_SSH_ARGS": shlex.join(ssh_args),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        # The ssh plugin's own name for it: ANSIBLE_PIPELINING would pipe local connections' modules too,
        # which costs them 8 % more CPU (python -m bench pipeline, overhead ratio).
        "ANSIBLE_SSH_PIPELINING": "True",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
    }
    return SshSetup(envvars=envvars, control_dir=control_dir, temporary=temporary)


def close(setup: SshSetup) -> None:
    """Ask every master connection of the run to exit (they would otherwise linger ``ControlPersist``).
    Never raises: it runs in the run's ``finally``."""
    if setup.control_dir is None or not setup.control_dir.is_dir():
        return
    ssh = shutil.which("ssh")
    try:
        # The masters are our descendants (daemonized under the run's subreaper): reaped below, or each would
        # stay a zombie and count as a leftover process of the run.
        masters = [proc for proc in processes.descendants() if _is_master_of(proc, setup.control_dir)]
        for socket_path in setup.control_dir.iterdir():
            if ssh is None or not socket_path.is_socket():
                continue
            try:
                subprocess.run(
                    [ssh, "-o", f"ControlPath={socket_path}", "-O", "exit", "playdeck-control-master"],
                    capture_output=True,
                    timeout=MASTER_EXIT_SECONDS,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                log.warning("ssh master %s did not exit; the leftover sweep stops it", socket_path)
        processes.wait_gone(masters, MASTER_EXIT_SECONDS)
        # The ssh clients that started the masters exited once their task was done; their parents (Ansible's
        # task workers) had exited first, so they were re-parented to the run's subreaper, which reaps them here.
        processes.reap_exited_children("ssh")
        if setup.temporary:
            shutil.rmtree(setup.control_dir, ignore_errors=True)
    except OSError:
        log.exception("could not close the ssh masters in %s", setup.control_dir)


def _is_master_of(proc: psutil.Process, control_dir: Path) -> bool:
    try:
        # A master names itself "ssh: <control path> [mux]".
        return proc.name() == "ssh" and str(control_dir) in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def explain_failure(failure: str) -> str | None:
    """A sentence for a run that failed on an SSH host key check (``failure``: "host: task: message",
    the pump's first failure); None for any other failure."""
    host = failure.split(":", 1)[0]
    if CHANGED_MARK in failure:
        return (
            f"SSH host key check failed for {host}: the host key it presented has CHANGED and does not match the "
            "environment's known hosts (a reinstalled host, or someone intercepting the connection); after "
            "checking the new key, update them with `playdeck env set PROJECT ENV --known-hosts-file FILE`"
        )
    if any(mark in failure for mark in UNKNOWN_MARKS):
        return (
            f"SSH host key check failed for {host}: its host key is not in the environment's known hosts; add it "
            "with `playdeck env set PROJECT ENV --known-hosts-file FILE` (host key checking stays on)"
        )
    return None
