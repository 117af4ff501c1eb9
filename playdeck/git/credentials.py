"""A project's git credential, and what git is given for it: files in a private directory and environment.

Never argv, never the URL: an SSH key is written 0600 into the command's private directory (removed with it)
and named in GIT_SSH_COMMAND; an HTTPS username and token become an ``Authorization`` header in git's
environment-only configuration (GIT_CONFIG_KEY_n), scoped to the repository's own scheme, host and port so a
submodule on another host never receives it.
"""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from playdeck.git import urls

SSH_KEY, HTTPS = "ssh_key", "https"


@dataclass(frozen=True)
class GitCredential:
    """``kind`` "ssh_key": ``private_key`` (OpenSSH text) and ``known_hosts`` (lines pinning the server's host
    key; ssh refuses a server whose key is not there or differs). ``kind`` "https": ``username`` and
    ``password`` (a token or a password). The secrets are left out of repr()."""

    kind: str
    private_key: str = field(default="", repr=False)
    known_hosts: str = ""
    username: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def ssh_key(cls, private_key: str, known_hosts: str) -> GitCredential:
        return cls(SSH_KEY, private_key=private_key, known_hosts=known_hosts)

    @classmethod
    def https(cls, username: str, password: str) -> GitCredential:
        return cls(HTTPS, username=username, password=password)

    def secrets(self) -> tuple[str, ...]:
        """The strings no error text may contain (the header too: it is the token, encoded)."""
        if self.kind == HTTPS:
            return tuple(value for value in (self.password, _basic(self.username, self.password)) if value)
        return tuple(line for line in self.private_key.splitlines() if len(line.strip()) > 8)


def _basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def ssh_command(directory: Path, credential: GitCredential | None, connect_timeout: int) -> str:
    """The GIT_SSH_COMMAND for one git command: key and known hosts from files in ``directory``, no agent, no
    config files, no prompt, the host key pinned (unknown or changed: refused)."""
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(_lines(credential.known_hosts) if credential else "")
    options = [
        "-F", "/dev/null",  # neither ~/.ssh/config nor /etc/ssh/ssh_config
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={known_hosts}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "UpdateHostKeys=no",
        "-o", f"ConnectTimeout={connect_timeout}",
        "-o", "ServerAliveInterval=15",
        "-o", f"ServerAliveCountMax={max(1, connect_timeout // 15)}",
    ]  # fmt: skip
    if credential is not None and credential.kind == SSH_KEY:
        key = directory / "id_key"
        key.touch(mode=0o600)
        # ssh refuses a key without its final newline, and one with Windows line ends.
        key.write_text(_lines(credential.private_key))
        options += ["-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"]
    else:
        options += ["-o", "IdentityFile=none", "-o", "IdentityAgent=none"]
    return shlex.join(["ssh", *options])


def _lines(text: str) -> str:
    lines = [line.strip() for line in text.replace("\r\n", "\n").splitlines()]
    return "".join(f"{line}\n" for line in lines if line)


def http_config(url: str, credential: GitCredential | None) -> list[tuple[str, str]]:
    """Git configuration that sends the HTTPS credential to ``url``'s scheme, host and port only."""
    if credential is None or credential.kind != HTTPS or urls.transport(url) != urls.HTTPS:
        return []
    header = f"Authorization: Basic {_basic(credential.username, credential.password)}"
    return [(f"http.{urls.origin(url)}.extraHeader", header)]
