"""The supervisord set-up of ``playdeck up``.

It renders one main config into ``<data_dir>/supervisor/`` that includes the very program files
production includes (``deploy/supervisor/playdeck-*.conf``). Those read their paths and counts from
supervisord's environment (``%(ENV_PLAYDECK_...)s``), so ``program_environment()`` is what makes them
work here too.
"""

from __future__ import annotations

import glob
import shlex
import string
import sys
from dataclasses import dataclass
from pathlib import Path

from playdeck.errors import PlaydeckError
from playdeck.settings import SOURCE_ROOT, Settings

CONFIG_DIR = SOURCE_ROOT / "deploy" / "supervisor"
MAIN_TEMPLATE = CONFIG_DIR / "supervisord.conf.template"
PROGRAM_FILES = (
    "playdeck-web.conf",
    "playdeck-worker-deploy.conf",
    "playdeck-worker-dns.conf",
    "playdeck-reaper.conf",
)
PROGRAMS = tuple(name.removesuffix(".conf") for name in PROGRAM_FILES)
# sun_path holds 108 bytes on Linux, the terminating NUL included; supervisord first binds
# "<socket>.<pid>" and then renames it, so leave room for a dot and a 7-digit pid (pid_max 4194304).
MAX_SOCKET_PATH = 107 - len(".4194304")


@dataclass(frozen=True)
class SupervisorLayout:
    """Where the supervisord of one data directory keeps its files."""

    supervisor_dir: Path
    log_dir: Path

    @classmethod
    def for_settings(cls, settings: Settings) -> SupervisorLayout:
        return cls(supervisor_dir=settings.data_dir / "supervisor", log_dir=settings.data_dir / "log")

    @property
    def config(self) -> Path:
        return self.supervisor_dir / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.supervisor_dir / "supervisor.sock"

    @property
    def server_url(self) -> str:
        """For supervisorctl and XML-RPC clients (``supervisor.xmlrpc.SupervisorTransport``)."""
        return f"unix://{self.socket}"


def playdeck_command() -> str:
    """The ``playdeck`` command of this installation, shell-quoted as supervisord splits it."""
    script = Path(sys.executable).parent / "playdeck"
    if script.is_file():
        return shlex.quote(str(script))
    # Not installed as a console script (e.g. run from a checkout): the module works the same.
    return shlex.join([sys.executable, "-m", "playdeck.cli"])


def program_environment(settings: Settings) -> dict[str, str]:
    """The variables the program files expand; supervisord refuses to start if one is missing."""
    return {
        "PLAYDECK_BIN": playdeck_command(),
        "PLAYDECK_DATA_DIR": str(settings.data_dir),
        "PLAYDECK_WORKER_CONCURRENCY": str(settings.worker_concurrency),
    }


def _config_value(path: Path | str) -> str:
    # supervisord %-expands option values; a literal % in a path must be doubled.
    return str(path).replace("%", "%%")


def render_config(settings: Settings) -> str:
    layout = SupervisorLayout.for_settings(settings)
    if len(str(layout.socket).encode()) > MAX_SOCKET_PATH:
        raise PlaydeckError(
            f"the supervisor socket path {layout.socket} is longer than a unix socket allows "
            f"({MAX_SOCKET_PATH} bytes); use a shorter PLAYDECK_DATA_DIR"
        )
    if any(char.isspace() for char in str(CONFIG_DIR)):
        # supervisord splits [include] files on whitespace and only warns about a pattern that matches
        # nothing: it would start with no programs at all.
        raise PlaydeckError(f"supervisord cannot include program files from a path with spaces: {CONFIG_DIR}")
    return string.Template(MAIN_TEMPLATE.read_text()).substitute(
        socket=_config_value(layout.socket),
        supervisor_dir=_config_value(layout.supervisor_dir),
        log_dir=_config_value(layout.log_dir),
        # supervisord treats each entry as a glob pattern.
        program_files=" ".join(_config_value(glob.escape(str(CONFIG_DIR / name))) for name in PROGRAM_FILES),
    )


def write_config(settings: Settings) -> Path:
    """Render the main config into the data dir and create the folders it and the programs log to."""
    layout = SupervisorLayout.for_settings(settings)
    text = render_config(settings)
    layout.supervisor_dir.mkdir(parents=True, exist_ok=True)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    staging = layout.config.with_suffix(".conf.tmp")
    staging.write_text(text)
    # Replace in one step: a supervisord (re)reading the file never sees half of it.
    staging.replace(layout.config)
    return layout.config


def supervisord_argv(config: Path) -> list[str]:
    """supervisord in the foreground (-n): Ctrl-C or a TERM to it stops Playdeck."""
    return [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(config)]
