"""A project's bare mirror: ``<root>/<key>.git``, fetched from the project's URL, one fetch at a time.

``fetch(max_age)`` brings every branch and tag (pruning the gone ones) unless the last successful fetch
started less than ``max_age`` seconds before the call, or started after the call (it saw everything pushed
before). Callers on one host wait on an fcntl lock beside the mirror and look again once they hold it, so
twenty runs queued together cause one fetch. A mirror over ``git_max_mirror_mb`` is removed (the fetch is
stopped as soon as it grows past it). A changed URL starts a new mirror.

Everything else (resolve, list_refs, commits_between, has_commit, is_reachable, checkout) reads the mirror
without its lock: git's object and ref updates are atomic for readers.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playdeck.errors import ValidationError
from playdeck.git import checkout as checkouts
from playdeck.git import errors, history, resolving
from playdeck.git.command import GitSession
from playdeck.git.credentials import GitCredential
from playdeck.git.objects import Changes, Commit, RefInfo
from playdeck.git.urls import check_url
from playdeck.settings import get_settings

_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
STAMP = "playdeck-fetch.json"  # in the mirror: the URL and when the last successful fetch started
REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


def mirrors_dir() -> Path:
    return get_settings().data_dir / "git"


def directory_bytes(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except FileNotFoundError:
                continue  # a temporary file git removed meanwhile
    return total


class Mirror:
    """``Mirror("shop", "https://git.example.test/shop.git", credential)``: the mirror of one project on this
    host. ``key`` names its directory (letters, digits, ``_.-``; e.g. the project's id or name)."""

    def __init__(
        self,
        key: str,
        url: str,
        credential: GitCredential | None = None,
        *,
        allow_file: bool = False,
        root: Path | None = None,
    ) -> None:
        if not _KEY.fullmatch(key) or key.endswith((".git", ".lock")):
            raise ValidationError("key", f"'{key}' cannot name a mirror")
        self.key = key
        self.url = check_url(url, allow_file)
        self.credential = credential
        self.allow_file = allow_file
        self.root = root if root is not None else mirrors_dir()
        self.path = self.root / f"{key}.git"
        self.lock_path = self.root / f"{key}.lock"

    def __repr__(self) -> str:
        return f"Mirror({self.key!r}, {self.url!r})"

    def fetched_at(self) -> float | None:
        """When the last successful fetch from this URL started (epoch seconds); None: never (or another URL)."""
        try:
            stamp = json.loads((self.path / STAMP).read_text())
        except (OSError, ValueError):
            return None
        return stamp.get("started") if stamp.get("url") == self.url else None

    def _fresh(self, asked: float, max_age_seconds: float) -> bool:
        started = self.fetched_at()
        return started is not None and started >= asked - max(max_age_seconds, 0)

    def fetch(self, max_age_seconds: float = 0) -> bool:
        """Fetch unless fresh enough (see the module); True if this call fetched. GitError on failure."""
        asked = time.time()
        if self._fresh(asked, max_age_seconds):
            return False
        with self._locked():
            if self._fresh(asked, max_age_seconds):
                return False
            self._fetch_now()
        return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # per open file: threads of one process exclude each other too
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _fetch_now(self) -> None:
        started = time.time()
        limit = get_settings().git_max_mirror_mb * 1024 * 1024
        with GitSession(self.url, self.credential, self.allow_file) as git:
            if self.path.exists() and self.fetched_at() is None:
                shutil.rmtree(self.path)  # another URL's (or a broken) mirror: start again
            if not self.path.exists():
                git.run("init", "--quiet", "--bare", "--", str(self.path))
            try:
                git.run(
                    f"--git-dir={self.path}",
                    # A commit-graph of every commit, kept up to date by each fetch: ancestry questions
                    # (is a run's commit still on a branch or tag?) and checkouts read it instead of parsing
                    # commits (3 s → 0.75 s asking 5,500 refs measured on a 10,000-commit mirror).
                    "-c", "fetch.writeCommitGraph=true",
                    "fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
                    "--", self.url, *REFSPECS,
                    watch=lambda: errors.TOO_LARGE if directory_bytes(self.path) > limit else None,
                )  # fmt: skip
                if directory_bytes(self.path) > limit:
                    raise errors.GitError(errors.TOO_LARGE, f"over {get_settings().git_max_mirror_mb} MB")
            except errors.GitError as exc:
                if exc.reason == errors.TOO_LARGE:
                    shutil.rmtree(self.path, ignore_errors=True)
                raise
        temporary = self.path / f"{STAMP}.tmp"
        temporary.write_text(json.dumps({"url": self.url, "started": started}))
        temporary.replace(self.path / STAMP)

    def _require(self) -> None:
        if not self.path.exists():
            raise errors.GitError(errors.NOT_FOUND, "the mirror has not been fetched yet")

    def resolve(self, ref: str) -> Commit:
        self._require()
        return resolving.resolve(self.path, ref)

    def list_refs(self) -> list[RefInfo]:
        self._require()
        return resolving.list_refs(self.path)

    def commits_between(self, old_sha: str | None, new_sha: str, limit: int = history.DEFAULT_LIMIT) -> Changes:
        self._require()
        return history.commits_between(self.path, old_sha, new_sha, limit)

    def has_commit(self, sha: str) -> bool:
        return self.path.exists() and history.has_commit(self.path, sha)

    def is_reachable(self, sha: str, ref: str = "") -> bool:
        """Whether a branch or tag leads to commit ``sha``; ``ref`` (the branch or tag it was resolved from, as
        the user named it) is asked first: it usually does, and asking one ref is far cheaper than all."""
        if not self.path.exists():
            return False
        tip = resolving.tip_of(self.path, ref) if ref else None
        return history.is_reachable(self.path, sha, [tip] if tip else [])

    def checkout(self, sha: str, dest: Path, submodules: bool = False) -> None:
        self._require()
        checkouts.checkout(
            self.path,
            sha,
            dest,
            submodules=submodules,
            url=self.url,
            credential=self.credential,
            allow_file=self.allow_file,
        )
