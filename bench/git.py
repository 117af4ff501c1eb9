"""``python -m bench git`` (issue 22): git projects, measured in one run beside a directory project.

- Per-run checkout of a 200 MB, 10,000-commit repository (``bench.git_checkout``'s, generated once into
  ~/.cache/playdeck-bench/git with a worker's mirror of it): the worker's own step for a git run
  (``runners.git_checkout.checkout``), median of ``--git-checkouts``, and the disk one run's tree costs.
- Then a whole stack (``bench.harness.Stack``: MariaDB, Redis, ``playdeck web`` and a worker) with an HTTPS git
  server (``testing.git_servers``, token auth, its CA in PLAYDECK_GIT_CA_FILE); git projects are registered
  through ``POST /api/v1/projects`` beside the directory project ``trivial``, with the same playbook:
  - queue → running of a git project with a warm mirror against ``trivial``, alternately, ``--git-pairs`` each;
  - 20 deploys of one commit of a project never fetched, sent at once: the fetches the server served by the
    time all 20 runs ended;
  - the version picker (``GET /api/v1/projects/<name>/refs?q=``) over 5,000 tags and 500 branches, as a user
    types: p95 of the client's round trips.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from bench import git_checkout
from bench.harness import BENCH_DIR, Row, Stack, loadavg, median, percentile, run_in_threads, utcnow
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


@contextmanager
def worker_data_dir() -> Iterator[Path]:
    """This process's settings point at ``GIT_CACHE/worker`` (a worker host's data dir, holding the big
    repository's mirror once fetched) while the block runs."""
    from playdeck.settings import get_settings

    saved = os.environ.get("PLAYDECK_DATA_DIR")
    os.environ["PLAYDECK_DATA_DIR"] = str(GIT_CACHE / "worker")
    get_settings.cache_clear()
    try:
        yield GIT_CACHE / "worker"
    finally:
        if saved is None:
            os.environ.pop("PLAYDECK_DATA_DIR", None)
        else:
            os.environ["PLAYDECK_DATA_DIR"] = saved
        get_settings.cache_clear()


def checkout_rows(repeat: int) -> list[Row]:
    """What a worker does for each git run before its playbook (``runners.git_checkout.checkout``): look the
    commit up in its mirror (fresh: no fetch), check it is still on a branch or tag, write its tree."""
    from runners import git_checkout as run_checkout
    from runners.spec import GitSpec

    source = GIT_CACHE / "big.git"
    git_checkout.build(source)
    spec = GitSpec(f"file://{source}", "main", "", False, 10**9, "", "")
    times, disk = [], 0
    with worker_data_dir(), tempfile.TemporaryDirectory(prefix="playdeck-bench-checkout-") as work:
        mirror = run_checkout.mirror_for(0, spec, None)
        mirror.fetch(max_age_seconds=10**9)  # once: the cached mirror is reused by every later bench
        spec = dataclasses.replace(spec, commit=mirror.resolve("main").sha)
        for attempt in range(repeat):
            run_dir = Path(work) / f"run{attempt}"
            started = time.perf_counter()
            tree = run_checkout.checkout(0, spec, None, run_dir)
            times.append(time.perf_counter() - started)
            disk = disk_bytes(tree)
            shutil.rmtree(run_dir)
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


def _app_repo(base: Path, name: str):
    """A repository holding the directory project's playbook and inventory (bench/playbooks/trivial.yml,
    bench/inventory/local1.ini), tagged v1."""
    from testing.git_servers import RepoBuilder

    repo = RepoBuilder(base, name)
    repo.commit(
        "the trivial playbook",
        {
            "deploy/site.yml": (BENCH_DIR / "playbooks" / "trivial.yml").read_text(),
            "deploy/local1.ini": (BENCH_DIR / "inventory" / "local1.ini").read_text(),
        },
    )
    repo.tag("v1")
    return repo


def register(stack: Stack, server, name: str, **fields: object) -> None:
    """A git project served by ``server`` (its repository ``name``), through ``POST /api/v1/projects``."""
    body = {
        "name": name,
        "source_kind": "git",
        "git_url": server.url(name),
        "git_branch": "main",
        "playbook": "deploy/site.yml",
        "environments": {"local": {"inventory": "deploy/local1.ini"}},
        "git_username": "deploy",
        "git_password": TOKEN,
        **fields,
    }
    stack.http.post(f"{stack.api}/projects", json=body, timeout=30).raise_for_status()


def queue(stack: Stack, project: str, ref: str | None = None) -> dict:
    """The run queued, as the API answers it."""
    body = {"project": project, "environment": "local", **({"ref": ref} if ref else {})}
    response = stack.http.post(f"{stack.api}/runs", json=body, timeout=120)
    if response.status_code != 201:
        raise RuntimeError(f"deploy of {project} refused: {response.status_code} {response.text}")
    return response.json()


def timed_run(stack: Stack, project: str, ref: str | None = None) -> tuple[float, float, float]:
    """(client send → running, accepted → running, accepted → finished) in ms, of a successful run."""
    sent = utcnow()
    run = stack.wait_finished(queue(stack, project, ref)["id"])
    if run.state != "successful":
        raise RuntimeError(f"run {run.id} of {project} ended {run.state}: {run.reason}")

    def ms(later: dt.datetime, earlier: dt.datetime) -> float:
        return (later - earlier).total_seconds() * 1000

    return ms(run.started_at, sent), ms(run.started_at, run.queued_at), ms(run.finished_at, run.queued_at)


def latency_rows(stack: Stack, server, base: Path, pairs: int, warmup: int = 3) -> list[Row]:
    """Deploys of the directory project ``trivial`` and of a git project with the same playbook, alternately,
    one at a time; the git project's mirror is warm (fetched by the warm-up, cache time 1 h)."""
    _app_repo(base, "app")
    register(stack, server, "app", git_cache_seconds=3600)
    directory: list[tuple[float, float, float]] = []
    git: list[tuple[float, float, float]] = []
    for attempt in range(warmup + pairs):
        timings = timed_run(stack, "trivial"), timed_run(stack, "app", "v1")
        if attempt >= warmup:
            directory.append(timings[0])
            git.append(timings[1])

    def p50(rows: list[tuple[float, float, float]], column: int) -> float:
        return median([row[column] for row in rows])

    load = f"n={pairs} each; load {loadavg()}"
    sent = p50(git, 0) - p50(directory, 0)
    accepted = p50(git, 1) - p50(directory, 1)
    finished = p50(git, 2) - p50(directory, 2)
    return [
        Row(
            "queue→running p50, git (warm mirror) − directory",
            sent,
            "ms",
            150,
            note=f"client send→running: git {p50(git, 0):.0f}, directory {p50(directory, 0):.0f} ms "
            f"(accepted→running: {accepted:+.0f} ms); {load}",
        ),
        Row(
            "queue→finished p50, git − directory",
            finished,
            "ms",
            None,
            note=f"the run's own checkout of a 2-file commit; {load}",
        ),
    ]


def burst_rows(stack: Stack, server, base: Path) -> list[Row]:
    """``BURST`` deploys of one commit of a project never fetched before, sent at once: the fetches the git
    server served while they were queued (the web resolving the ref), and by the time all had run (a worker
    refreshes its mirror for a run that starts past the project's cache time, 60 s)."""
    _app_repo(base, "burst")
    register(stack, server, "burst")
    stack.http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=BURST))
    before = server.fetches()
    gate = threading.Barrier(BURST)
    queued_runs: list[dict] = []

    def send() -> None:
        gate.wait()
        queued_runs.append(queue(stack, "burst", "v1"))

    started = time.monotonic()
    run_in_threads(send, BURST)
    queued = server.fetches() - before
    runs = [stack.wait_finished(run["id"], poll=0.5) for run in queued_runs]
    commits = {run["commit"] for run in queued_runs}
    total = server.fetches() - before
    states = dict(Counter(run.state for run in runs))
    note = (
        f"{len(queued_runs)} queued of {len(commits)} commit(s), ended {states} within "
        f"{time.monotonic() - started:.0f} s, {total} fetches by then; load {loadavg()}"
    )
    return [Row(f"{BURST} deploys of one commit queued at once: fetches", queued, "", 1, note=note)]


def picker_rows(stack: Stack, server, base: Path, warm: int = 4) -> list[Row]:
    """``GET /api/v1/projects/refs/refs?q=…`` as a user types (``TYPED``), client round trips. The first
    answers (each web process parses the mirror's refs once per fetch) are left out, and shown in the note."""
    many_refs_repo(base)
    register(stack, server, "refs")
    url = f"{stack.api}/projects/refs/refs"
    times, total = [], 0
    for typed in TYPED * 6:
        started = time.perf_counter()
        response = stack.http.get(url, params={"q": typed}, timeout=120)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        if typed == "":
            total = response.json()["total"]
        times.append(elapsed)
    cold, warmed = times[:warm], times[warm:]
    note = (
        f"refs API, {total} refs, n={len(warmed)}, median {median(warmed) * 1000:.0f} ms, "
        f"first {len(cold)} answers {', '.join(f'{t * 1000:.0f}' for t in cold)} ms; load {loadavg()}"
    )
    p95 = percentile(warmed, 0.95) * 1000
    return [Row("version picker, 5,000 tags + 500 branches (p95)", p95, "ms", 100, note=note)]


def run(checkouts: int = 5, pairs: int = 20) -> list[Row]:
    from cryptography.fernet import Fernet

    rows = checkout_rows(checkouts)
    with git_server() as (server, base):
        env = {"PLAYDECK_SECRET_KEY": Fernet.generate_key().decode(), "PLAYDECK_GIT_CA_FILE": str(server.ca_file)}
        with Stack("production", env=env) as stack:
            rows += latency_rows(stack, server, base, pairs)
            rows += burst_rows(stack, server, base)
            rows += picker_rows(stack, server, base)
    return rows
