"""Running git safely: the one place Playdeck starts a git process.

Each ``GitSession`` has a private 0700 directory (git's HOME, the SSH key, known hosts), removed on exit, and
gives every command it runs an environment built from nothing: no system or global config, no prompt, no
askpass, only the transports the repository needs (https and ssh; file only for a file:// project), hooks
off, English messages, and the credential in files and environment only. Every command has a timeout (its
whole process group is stopped, ssh included) and may be watched while it runs (a size limit). A failure is a
GitError with a reason, its text cleaned of credentials.

Callers put ``--`` or ``--end-of-options`` before URLs and object names; user-chosen refs never reach git
(playdeck.git.resolving matches them in Python).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playdeck.git import credentials, diagnosis, errors, urls
from playdeck.git.credentials import GitCredential
from playdeck.settings import get_settings

GIT = shutil.which("git") or "/usr/bin/git"
# How often a watched command's check runs, and how long a stopped command gets to clean up (git removes its
# temporary pack files on TERM) before it is killed.
WATCH_SECONDS = 0.5
STOP_GRACE_SECONDS = 5
# Settings every command gets, through the environment (GIT_CONFIG_KEY_n), never argv.
_BASE_CONFIG = (
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("credential.helper", ""),
    ("transfer.credentialsInUrl", "die"),
    ("submodule.recurse", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("gc.autoDetach", "false"),
    ("advice.detachedHead", "false"),
    ("init.defaultBranch", "main"),
    # A checkout inflates and writes its files with a worker per core (2-3x faster for a run's tree).
    ("checkout.workers", "0"),
)

# What git is given of Playdeck's own environment: proxies, and where the system's CAs are. Nothing else (no
# GIT_* variable, no SSH agent).
_PASSED_THROUGH = (
    "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "TMPDIR",
)  # fmt: skip


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str


class GitSession:
    """``with GitSession(url, credential, allow_file) as git: git.run("fetch", …)``. Without a URL: local
    commands only (no transport allowed, no credential)."""

    def __init__(
        self, url: str | None = None, credential: GitCredential | None = None, allow_file: bool = False
    ) -> None:
        self.url = url
        self.credential = credential
        self.allow_file = allow_file
        self.private_dir = ""
        self.env: dict[str, str] = {}

    def __enter__(self) -> GitSession:
        self.private_dir = tempfile.mkdtemp(prefix="playdeck-git-")
        try:
            self.env = self._environment(Path(self.private_dir))
        except BaseException:
            shutil.rmtree(self.private_dir, ignore_errors=True)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.private_dir, ignore_errors=True)

    def _protocols(self) -> list[str]:
        if self.url is None:
            return []
        allowed = [urls.HTTPS, urls.SSH]
        if self.allow_file and urls.transport(self.url) == urls.FILE:
            allowed.append(urls.FILE)
        return allowed

    def _environment(self, private: Path) -> dict[str, str]:
        settings = get_settings()
        home, templates = private / "home", private / "templates"
        home.mkdir()
        templates.mkdir()
        protocols = self._protocols()
        config = [*_BASE_CONFIG, ("protocol.allow", "never")]
        config += [(f"protocol.{name}.allow", "always") for name in protocols]
        config += [("http.lowSpeedLimit", "1000"), ("http.lowSpeedTime", str(settings.git_stall_seconds))]
        if settings.git_ca_file is not None:
            config.append(("http.sslCAInfo", str(settings.git_ca_file)))
        elif "GIT_SSL_CAINFO" in os.environ:  # the host's own choice (it would override http.sslCAInfo)
            config.append(("http.sslCAInfo", os.environ["GIT_SSL_CAINFO"]))
        if self.url is not None:
            config += credentials.http_config(self.url, self.credential)
        env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
        env |= {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(home),
            "LC_ALL": "C",
            "LANG": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "SSH_ASKPASS_REQUIRE": "never",
            # An empty list refuses every transport: a local command never reaches out.
            "GIT_ALLOW_PROTOCOL": ":".join(protocols) or "none",
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_TEMPLATE_DIR": str(templates),
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_SSH_VARIANT": "ssh",
            "GIT_SSH_COMMAND": credentials.ssh_command(private, self.credential, settings.git_stall_seconds),
            "GIT_CONFIG_COUNT": str(len(config)),
        }
        for index, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env

    def run(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        watch: Callable[[], str | None] | None = None,
    ) -> GitResult:
        """``git args…``; a GitError if it fails (with ``check``), runs over the timeout, or ``watch`` (called
        every WATCH_SECONDS) returns a reason to stop it."""
        process = subprocess.Popen(
            [GIT, *args],
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**self.env, **(env or {})},
            start_new_session=True,  # ssh and git's helpers in its group: a timeout stops them all
        )
        stdout, stderr = _communicate(process, input, watch, get_settings().git_timeout_seconds)
        result = GitResult(process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace"))
        if check and result.returncode != 0:
            raise self.error(diagnosis.reason_of(result.stderr), result.stderr)
        return result

    def error(self, reason: str, stderr: str = "") -> errors.GitError:
        secrets = self.credential.secrets() if self.credential else ()
        return errors.GitError(reason, diagnosis.clean(stderr, secrets, self.private_dir))


def _communicate(
    process: subprocess.Popen, input: str | None, watch: Callable[[], str | None] | None, timeout: float
) -> tuple[bytes, bytes]:
    data = input.encode() if input is not None else None
    step = WATCH_SECONDS if watch is not None else timeout
    waited = 0.0
    while True:
        try:
            return process.communicate(data, timeout=min(step, max(timeout - waited, 0.01)))
        except subprocess.TimeoutExpired:
            data = None  # sent already: communicate() refuses input once it has started
            waited += step
            reason = errors.TIMED_OUT if waited >= timeout else (watch() if watch else None)
            if reason is not None:
                _stop(process)
                raise errors.GitError(reason, f"after {waited:.0f} s" if reason == errors.TIMED_OUT else "") from None


def _stop(process: subprocess.Popen) -> None:
    """TERM to the whole group (git removes its temporary files), KILL if it lingers; then reap it."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.communicate(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
