"""Commits of a mirror by id: whether one is there, whether a branch or tag still leads to it, and what lies
between two of them (what a deploy ships, or undoes). Ids are checked hex; no other value reaches git."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from playdeck.errors import ValidationError
from playdeck.git import diagnosis, errors
from playdeck.git.command import GitSession
from playdeck.git.objects import ChangedCommit, Changes, Commit

# One record per commit (-z: NUL between records): id, author, committer date, subject, body.
LOG_FORMAT = "--format=%H%x1f%an%x1f%cI%x1f%s%x1f%b"
_FULL_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# What ``git revert`` writes.
_REVERT = re.compile(r'^Revert "|This reverts commit [0-9a-f]{7,64}', re.MULTILINE)
DEFAULT_LIMIT = 100


def check_sha(sha: str, field: str = "commit") -> str:
    """A full commit id (40 or 64 hex digits, lowercase), else a ValidationError on ``field``."""
    if not isinstance(sha, str) or not _FULL_ID.fullmatch(sha):
        raise ValidationError(field, f"'{sha}' is not a full commit id (40 or 64 hexadecimal digits)")
    return sha


def parse_log(output: str) -> list[ChangedCommit]:
    found = []
    for record in output.split("\0"):
        record = record.strip("\n")
        if not record:
            continue
        sha, author, date, subject, body = record.split("\x1f", 4)
        commit = Commit(sha, subject, author, datetime.fromisoformat(date))
        found.append(ChangedCommit(commit, bool(_REVERT.search(f"{subject}\n{body}"))))
    return found


def commit_in(git: GitSession, git_dir: Path, sha: str) -> bool:
    output = git.run(f"--git-dir={git_dir}", "cat-file", "--batch-check", input=f"{check_sha(sha)}\n")
    return output.stdout.split()[1:2] == ["commit"]


def reachable_in(git: GitSession, git_dir: Path, sha: str, tips: Iterable[str] = ()) -> bool:
    """Whether a branch or tag leads to ``sha`` (a commit a force-push removed is still stored, unreachable).
    ``tips``: full ids (git's own) of branch or tag tips asked first, the run's ref's usually: one ancestry walk
    from one tip (26 ms measured on a 10,000-commit mirror) instead of asking each of 5,500 refs (3 s; 0.75 s
    with the commit-graph each fetch writes), which is left for a commit its own ref no longer leads to."""
    if not commit_in(git, git_dir, sha):
        return False
    if any(_is_ancestor(git, git_dir, sha, check_sha(tip, "tip")) for tip in tips):
        return True
    refs = ("refs/heads", "refs/tags")
    output = git.run(f"--git-dir={git_dir}", "for-each-ref", "--count=1", f"--contains={sha}", "--format=x", *refs)
    return bool(output.stdout.strip())


def _is_ancestor(git: GitSession, git_dir: Path, sha: str, tip: str) -> bool:
    base = (f"--git-dir={git_dir}", "merge-base", "--is-ancestor", "--end-of-options")
    result = git.run(*base, sha, tip, check=False)
    if result.returncode not in (0, 1):  # 1: not an ancestor; anything else: git could not tell
        raise git.error(diagnosis.reason_of(result.stderr), result.stderr)
    return result.returncode == 0


def has_commit(git_dir: Path, sha: str) -> bool:
    """Whether the mirror stores the commit ``sha`` (a full id), reachable or not."""
    with GitSession() as git:
        return commit_in(git, git_dir, sha)


def is_reachable(git_dir: Path, sha: str, tips: Iterable[str] = ()) -> bool:
    with GitSession() as git:
        return reachable_in(git, git_dir, sha, tips)


def _between(git: GitSession, git_dir: Path, include: str, exclude: str | None, limit: int):
    revisions = [include, f"^{exclude}"] if exclude else [include]
    base = [f"--git-dir={git_dir}"]
    total = git.run(*base, "rev-list", "--count", "--end-of-options", *revisions).stdout.strip()
    listed = git.run(*base, "log", "-z", f"--max-count={limit}", LOG_FORMAT, "--end-of-options", *revisions)
    return parse_log(listed.stdout), int(total)


def commits_between(git_dir: Path, old_sha: str | None, new_sha: str, limit: int = DEFAULT_LIMIT) -> Changes:
    """What deploying ``new_sha`` changes where ``old_sha`` is deployed (None: nothing deployed yet, every
    commit of new is added). GitError UNKNOWN_COMMIT if the mirror lacks either."""
    check_sha(new_sha, "new_sha")
    if old_sha is not None:
        check_sha(old_sha, "old_sha")
    with GitSession() as git:
        for sha in (new_sha, old_sha):
            if sha is not None and not commit_in(git, git_dir, sha):
                raise errors.GitError(errors.UNKNOWN_COMMIT, f"{sha} is not in the repository")
        added, added_total = _between(git, git_dir, new_sha, old_sha, limit)
        if old_sha is None:
            return Changes(added, added_total, [], 0, rollback=False)
        removed, removed_total = _between(git, git_dir, old_sha, new_sha, limit)
    return Changes(added, added_total, removed, removed_total, rollback=added_total == 0 and removed_total > 0)
