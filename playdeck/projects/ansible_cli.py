"""Ansible's listing commands (``ansible-inventory``, ``ansible-playbook --list-tags``) run for the platform itself:
in a private directory with an empty ansible.cfg and a private HOME, so nothing of the server's working
directory or user (an ansible.cfg, plugins, group_vars) is read, with a timeout and no stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TIMEOUT_SECONDS = 30


def program(name: str) -> str:
    # The one installed beside this Python (the venv's), else whatever PATH offers.
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else name


def run(private: Path, command: list[str], extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``command`` (its program looked up by ``program``) run in ``private``; raises OSError when it cannot
    start, subprocess.TimeoutExpired after TIMEOUT_SECONDS."""
    config = private / "ansible.cfg"
    config.write_text("")
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(private),
        "LANG": "C.UTF-8",
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "PYTHONWARNINGS": "ignore",
        **extra_env,
    }
    return subprocess.run(
        [program(command[0]), *command[1:]], cwd=private, env=environment, capture_output=True, encoding="utf-8",
        errors="replace", timeout=TIMEOUT_SECONDS, stdin=subprocess.DEVNULL,
    )  # fmt: skip
