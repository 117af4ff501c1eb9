"""Where a run's playbook executes: in a bubblewrap sandbox that shows it nothing of the platform.

A playbook's local tasks and its Jinja lookups run on the worker host, as the worker's user. Without a
sandbox they could read the SQLite DB, the logs, other runs' private dirs (their extra vars, vault files) and,
through ``/proc/<pid>/environ``, every secret a platform process got from its environment (FIELD-NOTES,
"Launch safety"). Inside ``bwrap``:

- the whole file system is read-only (``--ro-bind / /``), so a run writes only where it is given a place: its
  own private data dir, the apps dir, the DNS zone dir and ``PLAYDECK_RUN_WRITABLE_PATHS``;
- the data dir is an empty tmpfs (DB, logs, broker, supervisord's socket, other runs are gone) with just those
  writable dirs bound back; a SQLite DB kept elsewhere, the ``PLAYDECK_SECRET_KEY_FILE`` and the
  ``PLAYDECK_LDAP_BIND_PASSWORD_FILE`` are covered by /dev/null;
- a PID namespace with its own ``/proc`` shows the run's own processes only, so no other process's environment
  can be read; they stay descendants of the pool process (``runners.processes`` still stops them after a
  cancel) and keep ``PLAYDECK_RUN`` (``runners.orphans`` still finds them from outside);
- every capability is dropped, so a worker running as root cannot unmount what hides the platform;
- the network is shared (SSH deploys, rndc, the DNS check need it): the DB and broker must ask for credentials.

/tmp is the run's own (a tmpfs), so other runs' ssh-agent sockets there are out of reach; the run's own agent
(ansible-runner starts it around the sandbox when the run has an SSH key) has its socket's dir bound in by
``WRAPPER``, which reads ``SSH_AUTH_SOCK`` when the agent has set it. Ansible's temporary files
(``~/.ansible/tmp``, read-only otherwise) go to ``tmp/`` in the run's private dir.
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from playdeck.errors import PlaydeckError
from playdeck.settings import Settings

log = logging.getLogger(__name__)

# Kept by every run: the options the probe checks too.
BASE_ARGS = (
    "--ro-bind", "/", "/",
    "--dev", "/dev",
    "--unshare-pid",
    "--proc", "/proc",
    "--die-with-parent",
    "--cap-drop", "ALL",
)  # fmt: skip
SCRATCH_DIR = "tmp"
# The checkout (or site-packages) Playdeck itself is imported from.
CODE_ROOT = Path(__file__).resolve().parent.parent
PROBE_SECONDS = 10
# Run as `sh -c WRAPPER playdeck-sandbox BWRAP ARGS...`: binds the dir of $SSH_AUTH_SOCK (if set) just before the
# "--" that ends bwrap's options, so it comes after the tmpfs over /tmp. (`for` walks the original arguments
# while `set --` appends the new list; `shift` then drops the originals.)
WRAPPER = """bwrap=$1; shift
if [ -n "${SSH_AUTH_SOCK:-}" ]; then
  agent_dir=${SSH_AUTH_SOCK%/*}; count=$#; bound=
  for arg do
    if [ "$arg" = "--" ] && [ -z "$bound" ]; then set -- "$@" --bind "$agent_dir" "$agent_dir"; bound=1; fi
    set -- "$@" "$arg"
  done
  shift "$count"
fi
exec "$bwrap" "$@"
"""


class SandboxUnavailable(PlaydeckError):
    """PLAYDECK_RUN_SANDBOX=bwrap, and bwrap is missing or does not work on this host."""


@dataclass(frozen=True)
class Sandbox:
    """What ansible_runner.run gets: ``binary`` instead of ansible-playbook, and ``args`` (ending with ``--``)
    before the ansible-playbook command line."""

    binary: str
    args: list[str]

    def command(self, playbook: str, playbook_args: list[str]) -> list[str]:
        return [*self.args, "ansible-playbook", playbook, *playbook_args]


def resolve(settings: Settings) -> str | None:
    """The bwrap to run playbooks with, or None (PLAYDECK_RUN_SANDBOX=none, or auto on a host without a
    usable bwrap). Raises SandboxUnavailable when bwrap is asked for and cannot be used."""
    if settings.run_sandbox == "none":
        return None
    executable = shutil.which("bwrap")
    problem = "is not installed (Debian: apt-get install bubblewrap)" if executable is None else _probe(executable)
    if problem is None:
        return executable
    if settings.run_sandbox == "bwrap":
        raise SandboxUnavailable(
            f"PLAYDECK_RUN_SANDBOX=bwrap, but bwrap {problem}; the playbook was not started. Install or fix "
            "bubblewrap, or set PLAYDECK_RUN_SANDBOX=none to run playbooks unsandboxed."
        )
    _warn_unsandboxed(problem)
    return None


@functools.cache
def _warn_unsandboxed(problem: str) -> None:
    # Once per process: every run of this worker is affected the same way.
    log.warning(
        "bwrap %s: playbooks run unsandboxed and can read the platform's files and processes "
        "(set PLAYDECK_RUN_SANDBOX=bwrap to refuse instead)",
        problem,
    )


@functools.cache
def _probe(executable: str) -> str | None:
    """None if ``executable`` can start a sandbox here, else what went wrong (e.g. no user namespaces for an
    unprivileged user, a container without the rights). Once per process."""
    try:
        done = subprocess.run(
            [executable, *BASE_ARGS, "true"], capture_output=True, text=True, timeout=PROBE_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not be started ({exc})"
    if done.returncode != 0:
        return f"does not work on this host ({done.stderr.strip()[:300] or f'exit status {done.returncode}'})"
    return None


def prepare(
    executable: str, settings: Settings, private_dir: Path, project_dir: Path, writable=(), read_only=()
) -> Sandbox:
    """The sandbox of the run whose private data dir is ``private_dir``; ``writable``: more dirs of the run
    (e.g. the ssh control dir when it had to live outside the private dir); ``read_only``: dirs it reads and
    must not change, bound after everything else (a git run's checkout in its private dir, like a directory
    project's playbook dir; the Galaxy roles and collections it uses, in the data dir)."""
    # Bind sources must exist: the apps dir is always offered; the zone dir exists where DNS runs (a DNS run
    # makes it before this), and declared paths that do not exist are left out.
    settings.apps_dir.mkdir(parents=True, exist_ok=True)
    declared = [settings.apps_dir, settings.dns_zone_dir, *settings.run_writable_paths, *writable]
    inside = [path for path in declared if path.is_relative_to(settings.data_dir) and path.is_dir()]
    outside = [path for path in declared if not path.is_relative_to(settings.data_dir) and path.is_dir()]
    args = [*BASE_ARGS, "--tmpfs", "/tmp", *_read_only_under_tmp(settings, project_dir), *_binds(outside)]
    args += ["--tmpfs", str(settings.data_dir)]
    for hidden in _hidden_files(settings):
        args += ["--ro-bind", "/dev/null", str(hidden)]
    # After the tmpfs: these are the only parts of the data dir the run sees.
    args += _binds([*inside, private_dir])
    for path in read_only:
        args += ["--ro-bind", str(path), str(path)]
    scratch = private_dir / SCRATCH_DIR
    scratch.mkdir(mode=0o700, exist_ok=True)
    for ansible_tmp in _ansible_tmp_dirs():
        args += ["--bind", str(scratch), str(ansible_tmp)]
    args += ["--chdir", str(project_dir), "--"]
    return Sandbox(binary="/bin/sh", args=["-c", WRAPPER, "playdeck-sandbox", executable, *args])


def _read_only_under_tmp(settings: Settings, project_dir: Path) -> list[str]:
    """Read-only binds that show again, over the run's own /tmp, what every run must read when it is kept under
    /tmp (an install unpacked there, a test's tmp dir): its playbook's dir, the playbook and inventory dirs, the
    Python that runs Ansible. Anywhere else ``--ro-bind / /`` shows them already; inside the data dir they stay
    hidden (its tmpfs comes after)."""
    # CODE_ROOT too: an editable install's venv imports Playdeck (the DNS playbook's modules) from the checkout.
    readable = (Path(project_dir), settings.playbook_dir, settings.inventory_dir, Path(sys.prefix), CODE_ROOT)
    args = []
    for path in dict.fromkeys(readable):
        if path.is_relative_to("/tmp") and path != Path("/tmp") and path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _binds(paths) -> list[str]:
    args = []
    for path in paths:
        args += ["--bind", str(path), str(path)]
    return args


def _ansible_tmp_dirs() -> list[Path]:
    """Ansible's default remote_tmp and local_tmp (``~/.ansible/tmp``), made to exist as mount points, in each
    home Ansible may take ``~`` for: $HOME's, and the user's home in the password database (a local connection
    expands ``~`` of the user it runs as: under a service manager whose HOME is elsewhere the two differ, and
    a run wrote to the read-only one and failed). A home that cannot have one is left out (Ansible would fail
    there without a sandbox too)."""
    homes = [Path(os.path.expanduser("~"))]
    try:
        homes.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    except KeyError:  # a uid with no entry: only $HOME
        pass
    found = []
    for home in dict.fromkeys(homes):
        path = home / ".ansible" / "tmp"
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            continue
        found.append(path)
    return found


def _hidden_files(settings: Settings) -> list[Path]:
    secrets = [settings.secret_key_file, settings.ldap_bind_password_file]
    return [*_database_files(settings), *(path for path in secrets if path is not None and path.is_file())]


def _database_files(settings: Settings) -> list[Path]:
    """A SQLite DB outside the data dir, with its journal files (inside, the tmpfs hides them already)."""
    prefix = "sqlite:///"
    if not settings.database_url.startswith(prefix):
        return []
    database = Path(settings.database_url[len(prefix) :].split("?", 1)[0])
    if not database.is_absolute() or database.is_relative_to(settings.data_dir):
        return []
    candidates = [database, *(database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]
    return [path for path in candidates if path.exists()]
