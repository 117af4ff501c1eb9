"""A run's own tree of one commit, made from the project's mirror into the run's private directory.

Measured with ``python -m bench.git_checkout`` (200 MB, 10,000 commits, 3,000 files of 60 KB): on a 2-core
machine shared with other work, ``read-tree --reset -u`` into the run's directory with an index file of its own
took 0.66-0.85 s at a load average of 3-4; at a load of 10 it took 1.5-3 s with parallel checkout (3.9-14 s
without), where ``git archive | tar -x`` took 1.4-3.6 s and ``worktree add`` or ``clone --shared`` + checkout
2.3-3.9 s. The tree costs what its files weigh (178 MB here). Unlike an archive it goes through git's own checks
of every path (no ``..``, no ``.git``, nothing written through a symlink). Nothing of the mirror is written or
locked, so checkouts of different commits run side by side, and the tree has no link back to the mirror (unlike
a worktree or a shared clone): the run may not see the mirror at all.

With submodules, git's own ``submodule update`` does the work: a throwaway repository in the tree borrows the
mirror's objects (alternates), fetches each submodule from its URL (relative URLs against the project's),
with the same transports and credential as the project; then every ``.git`` is removed, again a plain tree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from playdeck.git import errors
from playdeck.git.command import GitSession
from playdeck.git.credentials import GitCredential
from playdeck.git.history import check_sha, commit_in
from playdeck.paths import resolve_inside


def checkout(
    git_dir: Path,
    sha: str,
    dest: Path,
    *,
    submodules: bool = False,
    url: str | None = None,
    credential: GitCredential | None = None,
    allow_file: bool = False,
) -> None:
    """Write the tree of commit ``sha`` into ``dest`` (created; it must be empty). ``submodules``: their trees
    too, fetched from ``url``'s submodules with ``credential``. GitError UNKNOWN_COMMIT if the mirror lacks it."""
    check_sha(sha)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty")
    with GitSession(url if submodules else None, credential, allow_file) as git:
        if not commit_in(git, git_dir, sha):
            raise errors.GitError(errors.UNKNOWN_COMMIT, f"{sha} is not in the repository (fetch first)")
        if submodules and url is not None:
            _with_submodules(git, git_dir, sha, dest, url)
        else:
            index = Path(git.private_dir) / "index"
            git.run(
                f"--git-dir={git_dir}",
                f"--work-tree={dest}",
                "read-tree",
                "--reset",
                "-u",
                "--end-of-options",
                sha,
                env={"GIT_INDEX_FILE": str(index)},
            )


def _with_submodules(git: GitSession, git_dir: Path, sha: str, dest: Path, url: str) -> None:
    git.run("init", "--quiet", "--", str(dest))
    (dest / ".git" / "objects" / "info" / "alternates").write_text(f"{(git_dir / 'objects').resolve()}\n")
    local = ["-C", str(dest)]
    # Relative submodule URLs ("../lib.git") are relative to origin's.
    git.run(*local, "config", "remote.origin.url", url)
    git.run(*local, "update-ref", "--no-deref", "HEAD", sha)
    git.run(*local, "read-tree", "--reset", "-u", "HEAD")
    git.run(*local, "submodule", "update", "--init", "--recursive", "--quiet")
    _drop_git_dirs(dest)


def _drop_git_dirs(dest: Path) -> None:
    """Remove the repository and each submodule's ``.git`` file (they point into it): a plain tree."""
    shutil.rmtree(dest / ".git")
    for marker in dest.rglob(".git"):
        if marker.is_dir() and not marker.is_symlink():
            shutil.rmtree(marker)
        else:
            marker.unlink()


def inside_checkout(root: Path, relative: str, field: str) -> Path:
    """The path of ``relative`` in a checkout, refused (ValidationError on ``field``) if it leaves it: ``..``,
    an absolute path, or a symlink of the repository pointing outside (symlinks are resolved first)."""
    return resolve_inside(root, relative, field)
