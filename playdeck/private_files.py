"""Playdeck's files are its user's alone: the data dir 0700, the files in it 0600.

The data dir holds the SQLite DB (password hashes, encrypted secrets, every run's log), the logs, the broker's
messages, the first admin's password and a CLI token. Every Playdeck process restricts its umask at start-up
(``playdeck`` sets it before any command, and web, worker and reaper are ``playdeck`` commands that exec), so
whatever they create is private from the moment it exists; a data dir made by an older version is tightened
when the schema is upgraded (``playdeck up``, ``playdeck db upgrade``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_umask() -> None:
    os.umask(PRIVATE_UMASK)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` 0700, or take group's and others' access away from it if it exists and is ours."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(stat.S_IMODE(info.st_mode) & ~0o077)
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 unless it exists (e.g. before SQLite creates a DB with the umask's mode;
    SQLite gives its -wal and -shm files the DB file's mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
    except FileExistsError:
        pass
