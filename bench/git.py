"""``python -m bench git`` (issue 22): git projects, measured in one run beside a directory project.

- Per-run checkout of a 200 MB, 10,000-commit repository (``bench.git_checkout``'s, generated once into
  ~/.cache/playdeck-bench/git with its mirror): median of ``--git-checkouts`` and the disk one run's tree costs.
- 20 runs of one commit asked for at once: the fetches an HTTPS git server (``testing.git_servers``) served.
- The version picker of a project with 5,000 tags and 500 branches: p95 over a user typing a few names.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import git_checkout
from bench.harness import Row, loadavg, percentile
from bench.recording import CACHE_DIR

GIT_CACHE = CACHE_DIR / "git"
BURST = 20
TOKEN = "bench-git-token"
# What a user types into the picker, one keystroke at a time, twice over (the first answers warm the cache).
TYPED = ("v", "v4", "v49", "v499", "b", "b0", "b01", "b012", "main", "")


def disk_bytes(path: Path) -> int:
    """The blocks a tree takes on disk (what ``du`` says), not its files' lengths."""
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in files + dirs:
            total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


def big_mirror():
    """The cached 200 MB repository's mirror (fetched once, then reused) and the commit its main names."""
    from playdeck.git import Mirror

    source = GIT_CACHE / "big.git"
    git_checkout.build(source)
    mirror = Mirror("big", f"file://{source}", allow_file=True, root=GIT_CACHE / "mirrors")
    mirror.fetch(max_age_seconds=10**9)
    return mirror, mirror.resolve("main").sha


def checkout_rows(repeat: int) -> list[Row]:
    mirror, sha = big_mirror()
    times, disk = [], 0
    with tempfile.TemporaryDirectory(prefix="playdeck-bench-checkout-") as work:
        for attempt in range(repeat):
            dest = Path(work) / f"run{attempt}"
            started = time.perf_counter()
            mirror.checkout(sha, dest)
            times.append(time.perf_counter() - started)
            disk = disk_bytes(dest)
            shutil.rmtree(dest)
    note = f"n={repeat}, max {max(times):.2f} s; load {loadavg()}"
    return [
        Row("per-run checkout, 200 MB / 10,000 commits (median)", statistics.median(times), "s", 1.0, note=note),
        Row(
            "disk one run's checkout costs",
            disk / 2**20,
            "MB",
            None,
            note=f"the mirror: {disk_bytes(mirror.path) / 2**20:.0f} MB, shared by the runs",
        ),
    ]


@contextmanager
def git_server() -> Iterator[tuple[object, Path]]:
    """An HTTPS git server (token ``TOKEN``) serving the repositories made under the directory it yields;
    PLAYDECK_GIT_CA_FILE names its CA while the block runs."""
    from playdeck.settings import get_settings
    from testing.git_servers import HttpsGitServer

    with tempfile.TemporaryDirectory(prefix="playdeck-bench-repos-") as base:
        server = HttpsGitServer(Path(base), TOKEN)
        saved = os.environ.get("PLAYDECK_GIT_CA_FILE")
        os.environ["PLAYDECK_GIT_CA_FILE"] = str(server.ca_file)
        get_settings.cache_clear()
        try:
            yield server, Path(base)
        finally:
            server.close()
            if saved is None:
                os.environ.pop("PLAYDECK_GIT_CA_FILE", None)
            else:
                os.environ["PLAYDECK_GIT_CA_FILE"] = saved
            get_settings.cache_clear()


def many_refs_repo(base: Path):
    """A repository with 50 commits, 5,000 tags and 500 branches."""
    from testing.git_servers import RepoBuilder

    repo = RepoBuilder(base, "refs")
    for n in range(50):
        repo.commit(f"change {n}", {"file.txt": str(n)})
    repo.many_refs(tags=5000, branches=500)
    return repo


def burst_rows(server, base: Path) -> list[Row]:
    """``BURST`` threads of this process ask one project's mirror for a fresh fetch at once (the project's
    cache time of 60 s), as deploys queued together do."""
    from playdeck.git import GitCredential, Mirror
    from testing.git_servers import RepoBuilder

    repo = RepoBuilder(base, "burst")
    repo.commit("first", {"site.yml": "- hosts: all\n"})
    credential = GitCredential.https("deploy", TOKEN)
    with tempfile.TemporaryDirectory(prefix="playdeck-bench-mirrors-") as root:
        mirrors = [Mirror("burst", server.url("burst"), credential, root=Path(root)) for _ in range(BURST)]
        before = server.fetches()
        gate = threading.Barrier(BURST)
        fetched: list[bool] = []

        def ask(mirror) -> None:
            gate.wait()
            fetched.append(mirror.fetch(60))
            mirror.resolve("main")

        threads = [threading.Thread(target=ask, args=(mirror,)) for mirror in mirrors]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    served = server.fetches() - before
    note = f"{sum(fetched)} of {BURST} callers fetched; load {loadavg()}"
    return [Row(f"{BURST} asks for one commit at once: fetches served", served, "", 1, note=note)]


def picker_rows(server, base: Path) -> list[Row]:
    from playdeck.git import GitCredential, Mirror

    many_refs_repo(base)
    credential = GitCredential.https("deploy", TOKEN)
    times = []
    with tempfile.TemporaryDirectory(prefix="playdeck-bench-mirrors-") as root:
        mirror = Mirror("refs", server.url("refs"), credential, root=Path(root))
        mirror.fetch()
        count = len(mirror.list_refs())
        for typed in TYPED * 5:
            started = time.perf_counter()
            needle = typed.casefold()
            [ref for ref in mirror.list_refs() if needle in ref.name.casefold()][:50]
            times.append(time.perf_counter() - started)
    median = statistics.median(times) * 1000
    note = f"Mirror.list_refs + filter, {count} refs, n={len(times)}, median {median:.0f} ms; load {loadavg()}"
    return [
        Row("version picker, 5,000 tags + 500 branches (p95)", percentile(times, 0.95) * 1000, "ms", 100, note=note)
    ]


def run(checkouts: int = 5) -> list[Row]:
    rows = checkout_rows(checkouts)
    with git_server() as (server, base):
        rows += burst_rows(server, base)
        rows += picker_rows(server, base)
    return rows
