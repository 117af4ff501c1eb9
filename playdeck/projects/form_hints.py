"""What the deploy form offers besides free text: an environment's hosts (for Limit) and a playbook's tags.

Both come from Ansible itself (``ansible-inventory --list``, ``ansible-playbook --list-tags``): a second or two
of a subprocess, so callers read the project in a short session first and call these with no transaction
open. Answers are cached in this process, keyed by what was read (the inline inventory's text, or the path,
size and modification time of the files read), so an edited inventory or playbook is read again: a file
named directly (the playbook, an inventory file) is looked at on every page load, the files under a directory
(the playbook's roles and included tasks, an inventory directory) at most every ``TREE_RECHECK_SECONDS``.

Only the YAML, INI and host-list inventory plugins are enabled, with an empty ansible.cfg and a private HOME:
listing hosts for a form never runs an inventory script or plugin, whatever the inventory dir holds. A git
project's inventory and playbook live in each run's own checkout: nothing is fetched on a page load, so a git
project gets hosts from an inline inventory only, and no tag list (the form says so).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from playdeck.errors import ValidationError
from playdeck.paths import resolve_inside
from playdeck.projects import ansible_cli, inline_inventory

# Files fingerprinted under a playbook's dir (roles, included tasks); past that, the first ones only.
MAX_FINGERPRINT_FILES = 2000
MAX_CACHED = 256
# How old a directory's fingerprint may be: a stat of every file under the playbook's dir on every load was
# most of the deploy form's CPU (up to 2,000 files: 25 ms; issue 24). An edit there shows within this time.
TREE_RECHECK_SECONDS = 5.0
TASK_TAGS_RE = re.compile(r"TASK TAGS: \[(?P<tags>[^\]]*)\]")
SAFE_PLUGINS = "yaml,ini,host_list"


@dataclass(frozen=True)
class Hints:
    """Names to offer; ``note`` says why there are none (or why they may be incomplete), "" if all is well."""

    names: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    note: str = ""


_cache: dict[str, Hints] = {}
# Keys being computed, each by the first request that missed it.
_pending: dict[str, Future[Hints]] = {}
_lock = threading.Lock()


def _cached(key: str, compute: Callable[[], Hints]) -> Hints:
    """The hints of ``key``, computed once however many requests ask at the same time: the others wait for
    the first. Each computing them too was a stampede: 20 deploy forms opened at once on a process whose
    cache was cold started 20 Ansible processes at a time, each slower for the others, for many seconds
    (bench approvals: p95 18 s)."""
    with _lock:
        found = _cache.get(key)
        if found is not None:
            return found
        pending = _pending.get(key)
        if pending is None:
            _pending[key] = computing = Future[Hints]()
    if pending is not None:
        return pending.result()
    try:
        hints = compute()
    except BaseException as exc:
        with _lock:
            del _pending[key]
        computing.set_exception(exc)
        raise
    with _lock:
        if len(_cache) >= MAX_CACHED:
            _cache.clear()
        _cache[key] = hints
        del _pending[key]
    computing.set_result(hints)
    return hints


def _fingerprint(path: Path) -> str:
    """The path, size and modification time of ``path`` and (a directory) of the files under it."""
    digest = hashlib.sha256()
    files = sorted(path.rglob("*"))[:MAX_FINGERPRINT_FILES] if path.is_dir() else []
    for item in [path, *files]:
        try:
            stat = item.stat()
        except OSError:
            continue
        digest.update(f"{item}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode(errors="surrogateescape"))
    return digest.hexdigest()


class TreeStamps:
    """Directories' fingerprints, each taken again once older than ``recheck`` seconds of ``clock`` (tests
    give a clock of their own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, recheck: float = TREE_RECHECK_SECONDS) -> None:
        self.clock = clock
        self.recheck = recheck
        self._taken: dict[Path, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def stamp(self, directory: Path) -> str:
        now = self.clock()
        with self._lock:
            known = self._taken.get(directory)
            if known is not None and now - known[0] < self.recheck:
                return known[1]
            if known is not None:
                # One request takes it again; those arriving meanwhile keep the last one.
                self._taken[directory] = (now, known[1])
        fingerprint = _fingerprint(directory)
        with self._lock:
            if len(self._taken) >= MAX_CACHED:
                self._taken.clear()
            self._taken[directory] = (now, fingerprint)
        return fingerprint


tree_stamps = TreeStamps()


def _stamp(path: Path) -> str:
    """What ``path`` is now: a file's own stat (one call, so an edit shows at once), a directory's recent
    fingerprint (``tree_stamps``)."""
    return tree_stamps.stamp(path) if path.is_dir() else _fingerprint(path)


def _list_hosts(source: Path, extra_env: dict[str, str]) -> Hints:
    with tempfile.TemporaryDirectory(prefix="playdeck-hosts-") as private:
        try:
            done = ansible_cli.run(Path(private), ["ansible-inventory", "--list", "-i", str(source)], extra_env)
            listed = json.loads(done.stdout) if done.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired, ValueError):
            listed = None
    if not isinstance(listed, dict):
        return Hints(note="the inventory could not be read to list its hosts; type a host pattern")
    hosts = sorted(inline_inventory.hosts_of(listed))
    groups = sorted(name for name, group in listed.items() if name not in ("_meta", "all", "ungrouped")
                    and isinstance(group, dict))  # fmt: skip
    return Hints(names=hosts, groups=groups)


@dataclass(frozen=True)
class Lookup:
    """Hints known at once (``ready``: nothing to ask Ansible), or the key they are cached under and how to
    compute them. The key is worked out in the caller's thread (a few ``stat`` calls): a deploy form whose
    hints are all cached starts no thread (``known``)."""

    ready: Hints | None = None
    key: str = ""
    compute: Callable[[], Hints] | None = None

    def known(self) -> Hints | None:
        """The hints if they need no Ansible now (ready, or cached), else None."""
        return self.ready if self.ready is not None else _cache.get(self.key)

    def hints(self) -> Hints:
        if self.ready is not None:
            return self.ready
        assert self.compute is not None  # a Lookup is either ready or computable
        return _cached(self.key, self.compute)


def hosts_lookup(inline: str | None, inventory: str, is_git: bool, inventory_dir: Path) -> Lookup:
    """The hosts and groups of an environment's inventory: its inline text, or (directory projects) its file or
    directory under ``inventory_dir``."""
    if inline is not None:
        key = "inline:" + hashlib.sha256(inline.encode("utf-8", "surrogatepass")).hexdigest()

        def from_text() -> Hints:
            with tempfile.TemporaryDirectory(prefix="playdeck-inline-") as private:
                source = Path(private) / inline_inventory.filename(inline)
                source.write_text(inline)
                return _list_hosts(source, inline_inventory.ansible_environment(inline))

        return Lookup(key=key, compute=from_text)
    if is_git:
        return Lookup(Hints(note="the inventory is in the project's repository, read by each run's checkout "
                            "(not fetched to show this page): type a host pattern"))  # fmt: skip
    try:
        source = resolve_inside(inventory_dir, inventory, "inventory")
    except ValidationError:
        return Lookup(Hints(note="the environment's inventory path is not usable; type a host pattern"))
    if not source.exists():
        return Lookup(Hints(note=f"the inventory '{inventory}' is not on this server; type a host pattern"))
    plugins = {"ANSIBLE_INVENTORY_ENABLED": SAFE_PLUGINS}
    return Lookup(key="file:" + _stamp(source), compute=lambda: _list_hosts(source, plugins))


def tags_lookup(playbook: str, is_git: bool, playbook_dir: Path) -> Lookup:
    """The tags a directory project's playbook uses (its roles' and included tasks' too), from
    ``ansible-playbook --list-tags``."""
    if is_git:
        return Lookup(Hints(note="the playbook is in the project's repository (not fetched to show this page)"))
    try:
        path = resolve_inside(playbook_dir, playbook, "playbook")
    except ValidationError:
        return Lookup(Hints(note="the playbook path is not usable"))
    if not path.is_file():
        return Lookup(Hints(note="the playbook is not on this server"))
    # The playbook itself at once, the roles and tasks files beside it within TREE_RECHECK_SECONDS.
    return Lookup(key=f"tags:{_stamp(path)}:{_stamp(path.parent)}", compute=lambda: _list_tags(path))


def _list_tags(path: Path) -> Hints:
    command = ["ansible-playbook", "--list-tags", "-i", "localhost,", str(path)]
    with tempfile.TemporaryDirectory(prefix="playdeck-tags-") as private:
        try:
            done = ansible_cli.run(Path(private), command, {"ANSIBLE_INVENTORY_ENABLED": SAFE_PLUGINS})
        except (OSError, subprocess.TimeoutExpired):
            return Hints(note="the playbook's tags could not be listed")
    if done.returncode != 0:
        return Hints(note="the playbook's tags could not be listed")
    tags = {tag.strip() for found in TASK_TAGS_RE.finditer(done.stdout) for tag in found["tags"].split(",")}
    # "always" and "never" are Ansible's own: not something to pick.
    return Hints(names=sorted(tags - {"", "always", "never"}))
