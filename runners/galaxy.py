"""The roles and collections a git project's commit asks for (``roles/requirements.yml``,
``collections/requirements.yml``), installed with ansible-galaxy before its playbook starts.

Installed once per content: into ``<data dir>/galaxy/<kind>-<sha256 of the file>``, made under a temporary name
and renamed into place (two runs installing the same file at once: one rename wins, both use it), then shown to
the run read-only (the sandbox binds it) through ANSIBLE_ROLES_PATH / ANSIBLE_COLLECTIONS_PATH. ansible-galaxy runs
with a timeout (its whole process group stopped), its own server timeout, a clean environment (no Playdeck
setting or credential, a private HOME, no git prompt, git transports https and ssh only: a requirement's
``git+ext::…`` runs nothing), in the checkout (the project's own ansible.cfg names its Galaxy servers). A Galaxy
server that is down fails the run with ansible-galaxy's own words, rather than hanging it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from playdeck.errors import ValidationError
from playdeck.git import inside_checkout
from playdeck.settings import Settings
from runners.source_errors import SourceUnavailable

GALAXY = str(Path(sys.executable).parent / "ansible-galaxy")
# kind (ansible-galaxy's subcommand), the file in the repository, the variable pointing ansible to it.
REQUIREMENTS = (
    ("role", "roles/requirements.yml", "ANSIBLE_ROLES_PATH"),
    ("collection", "collections/requirements.yml", "ANSIBLE_COLLECTIONS_PATH"),
)
# Where ansible looks besides (its defaults), kept after the run's own.
DEFAULT_PATHS = {
    "ANSIBLE_ROLES_PATH": ("~/.ansible/roles", "/usr/share/ansible/roles", "/etc/ansible/roles"),
    "ANSIBLE_COLLECTIONS_PATH": ("~/.ansible/collections", "/usr/share/ansible/collections"),
}
_PASSED_THROUGH = ("http_proxy", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR")
LAST_WORDS_CHARS = 600


@dataclass(frozen=True)
class Installed:
    envvars: dict[str, str] = field(default_factory=dict)
    # The cache dirs the run reads (bound read-only into its sandbox).
    dirs: list[Path] = field(default_factory=list)


def cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "galaxy"


def install(checkout: Path, settings: Settings) -> Installed:
    """Install what the checkout's requirements files ask for (none: nothing to do)."""
    envvars, dirs = {}, []
    for kind, relative, variable in REQUIREMENTS:
        try:
            requirements = inside_checkout(checkout, relative, "requirements")
        except ValidationError as exc:
            raise SourceUnavailable(f"{relative} leaves the checkout: {exc.message}") from None
        if not requirements.is_file():
            continue
        digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
        target = cache_dir(settings) / f"{kind}-{digest}"
        if not target.is_dir():
            _install(kind, relative, requirements, target, checkout, settings)
        envvars[variable] = os.pathsep.join([str(target), *DEFAULT_PATHS[variable]])
        dirs.append(target)
    return Installed(envvars, dirs)


def _install(kind: str, relative: str, requirements: Path, target: Path, checkout: Path, settings: Settings) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    home = Path(tempfile.mkdtemp(prefix="playdeck-galaxy-"))
    try:
        command = [GALAXY, kind, "install", "-r", str(requirements), "-p", str(building),
                   "--timeout", str(settings.galaxy_server_timeout_seconds)]  # fmt: skip
        problem = _run(command, checkout, _environment(home), settings.galaxy_timeout_seconds)
        if problem:
            raise SourceUnavailable(f"installing {relative} with ansible-galaxy failed: {problem}")
        building.mkdir(exist_ok=True)  # a file that lists nothing installs nothing
        try:
            building.rename(target)
        except OSError:
            if not target.is_dir():  # not another run's install that won the race
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def _environment(home: Path) -> dict[str, str]:
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    return env | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": "https:ssh",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "ANSIBLE_NOCOLOR": "1",
    }


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    """ "" if the command succeeded, else its last words (or that it ran out of time)."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # git or ssh it starts are stopped with it
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return f"no answer within {timeout:.0f} s"
    if process.returncode == 0:
        return ""
    text = output.decode(errors="replace").strip()
    return text[-LAST_WORDS_CHARS:] or f"exit status {process.returncode}"
