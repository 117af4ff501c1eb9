"""``python -m bench.git_checkout``: a run's checkout from a project's mirror, and the ways it could be made.

Builds (once, cached in --dir) a ~200 MB, 10,000-commit repository with git fast-import: a first commit of
3,000 files of 60 KB of random bytes (incompressible, so the pack is as big as the tree), then 9,999 commits
changing a 2 KB file each; then 5,000 tags and 500 branches. Fetches it into a Mirror (playdeck.git) and
times, --repeat times each, into fresh directories: ``Mirror.checkout`` (read-tree -u with a private index,
what Playdeck uses), ``git archive | tar -x``, ``git worktree add --detach`` and ``git clone --shared`` +
checkout; then ``Mirror.is_reachable`` (is the run's commit still on a branch or tag?), the worker's whole step
for a git run (``runners.git_checkout.checkout``: look the commit up, check it is reachable, write its tree),
``Mirror.list_refs`` and ``Mirror.resolve``. Prints min / median per row and the load average:
the machine's other work slows everything down.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

FILES, FILE_BYTES, COMMITS = 3000, 60_000, 10_000


def _fast_import_stream(out) -> None:
    def blob(data: bytes, mark: int) -> None:
        out.write(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))

    def commit(n: int, changes: list[tuple[str, int]]) -> None:
        message = f"change {n}".encode()
        out.write(b"commit refs/heads/main\ncommitter Dev <dev@example.test> %d +0000\n" % (1_600_000_000 + n * 60))
        out.write(b"data %d\n%s\n" % (len(message), message))
        out.writelines(b"M 100644 :%d %s\n" % (mark, path.encode()) for path, mark in changes)

    for mark in range(1, FILES + 1):
        blob(os.urandom(FILE_BYTES), mark)
    commit(0, [(f"dir{mark % 30}/file{mark}.bin", mark) for mark in range(1, FILES + 1)])
    for n in range(1, COMMITS):
        blob(os.urandom(2000), FILES + n)
        commit(n, [(f"changes/c{n % 500}.txt", FILES + n)])
    out.write(b"done\n")


def build(repo: Path) -> None:
    if (repo / "packed-refs").exists():
        return
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    importer = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--done", "--quiet"], stdin=subprocess.PIPE)
    _fast_import_stream(importer.stdin)
    importer.stdin.close()
    assert importer.wait() == 0
    commits = subprocess.run(["git", "-C", str(repo), "rev-list", "main"], capture_output=True, text=True).stdout
    ids = commits.split()
    lines = [f"create refs/tags/v{n} {ids[n * 2]}" for n in range(5000)]
    lines += [f"create refs/heads/b{n} {ids[n * 20]}" for n in range(500)]
    subprocess.run(["git", "-C", str(repo), "update-ref", "--stdin"], input="\n".join(lines) + "\n", text=True)
    subprocess.run(["git", "-C", str(repo), "repack", "-adq"], check=True)
    subprocess.run(["git", "-C", str(repo), "pack-refs", "--all"], check=True)


def timed(what: Callable[[int], object], repeat: int) -> list[float]:
    times = []
    for attempt in range(repeat):
        started = time.perf_counter()
        what(attempt)
        times.append(time.perf_counter() - started)
    return times


def row(name: str, times: list[float], note: str = "") -> None:
    print(f"{name:<38} min {min(times) * 1000:8.0f} ms   median {statistics.median(times) * 1000:8.0f} ms   {note}")


def du(path: Path) -> str:
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True).stdout.split()[0]


def compare(mirror_path: Path, sha: str, work: Path, repeat: int) -> None:
    git = ["git", f"--git-dir={mirror_path}"]

    def archive(n: int) -> None:
        (work / f"archive{n}").mkdir()
        subprocess.run(f"{' '.join(git)} archive {sha} | tar -x -C {work / f'archive{n}'}", shell=True, check=True)

    def worktree(n: int) -> None:
        subprocess.run([*git, "worktree", "add", "-q", "--detach", str(work / f"worktree{n}"), sha], check=True)

    def shared_clone(n: int) -> None:
        subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(mirror_path), str(work / f"clone{n}")])
        subprocess.run(["git", "-C", str(work / f"clone{n}"), "checkout", "-q", "--detach", sha], check=True)

    subprocess.run([*git, "worktree", "prune"], check=True)  # a previous bench's, its trees removed since
    row("git archive | tar -x", timed(archive, repeat), du(work / "archive0"))
    row("git worktree add --detach", timed(worktree, repeat), "links back to the mirror")
    subprocess.run([*git, "worktree", "prune"], check=True)
    row("git clone --shared + checkout", timed(shared_clone, repeat), "alternates: needs the mirror")


def reachability(mirror, sha: str, repeat: int) -> None:
    """Is main's tip still on a branch or tag: asked of main first (what a run does), or of every ref."""
    row("Mirror.is_reachable(tip, 'main')", timed(lambda _: mirror.is_reachable(sha, "main"), repeat))
    row("Mirror.is_reachable(tip): all refs", timed(lambda _: mirror.is_reachable(sha), repeat), "5,500 refs")


def run_step(bench_dir: Path, sha: str, work: Path, repeat: int) -> list[float]:
    """What a worker does before a git run's playbook, its mirror (project 0's) fresh: no fetch."""
    from runners.git_checkout import checkout, mirror_for
    from runners.spec import GitSpec

    spec = GitSpec(f"file://{bench_dir / 'big.git'}", "main", sha, False, 10**9, "", "")
    mirror_for(0, spec, None).fetch(10**9)
    return timed(lambda n: checkout(0, spec, None, work / f"run{n}"), repeat)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.git_checkout")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "playdeck-bench-git")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["PLAYDECK_DATA_DIR"] = str(args.dir / "data")
    from playdeck.git import Mirror

    build(args.dir / "big.git")
    mirror = Mirror("big", f"file://{args.dir / 'big.git'}", allow_file=True)
    fetch = timed(lambda _: mirror.fetch(), 1)
    row("first fetch (file://)", fetch, du(mirror.path))
    sha = mirror.resolve("main").sha
    work = args.dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    row("Mirror.checkout (read-tree -u)", timed(lambda n: mirror.checkout(sha, work / f"co{n}"), args.repeat))
    print(f"{'':<38} disk per run: {du(work / 'co0')}")
    compare(mirror.path, sha, work, args.repeat)
    reachability(mirror, sha, args.repeat)
    row("the run's step (git_checkout.checkout)", run_step(args.dir, sha, work, args.repeat))
    refs = mirror.list_refs()
    row(f"Mirror.list_refs ({len(refs)} refs)", timed(lambda _: mirror.list_refs(), 20))
    row("Mirror.resolve('v4999')", timed(lambda _: mirror.resolve("v4999"), 20))
    print(f"load average: {os.getloadavg()}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
