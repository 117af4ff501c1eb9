"""A git run's own tree: its commit, checked out from this worker host's mirror into the run's private dir.

Each worker host keeps its own mirror of the project under its data dir (playdeck.projects.git_source). The
run's commit was resolved when it was queued, possibly by another host: a mirror that lacks it is fetched
first. A mirror that has it is refreshed within the project's cache time only, to learn whether a force-push
removed the commit since (then the run ends in error rather than deploy a commit nobody can find again); if
that refresh fails, the commit the mirror holds is run all the same (it cannot have changed).
"""

from __future__ import annotations

import logging
from pathlib import Path

from playdeck.errors import ValidationError
from playdeck.git import GitCredential, GitError, Mirror
from playdeck.git.history import check_sha
from playdeck.projects.git_source import GitSource
from runners.source_errors import SourceUnavailable
from runners.spec import GitSpec

log = logging.getLogger(__name__)

# The run's tree, in its private dir (so it goes with the run's artifacts and their retention).
CHECKOUT_DIR = "project"


def mirror_for(project_id: int, git: GitSpec, credential: GitCredential | None) -> Mirror:
    source = GitSource(project_id, git.url, git.ref, git.cache_seconds, git.submodules, credential)
    return source.mirror()


def checkout(project_id: int, git: GitSpec, credential: GitCredential | None, data_dir: Path) -> Path:
    """The run's tree of ``git.commit`` in ``data_dir``/project; SourceUnavailable saying why not."""
    try:
        check_sha(git.commit)
        mirror = mirror_for(project_id, git, credential)
    except ValidationError as exc:  # no full commit id on the run, a URL git may not be given
        raise SourceUnavailable(f"the run's git source cannot be used: {exc.message}") from None
    _refresh(mirror, git)
    dest = data_dir / CHECKOUT_DIR
    try:
        mirror.checkout(git.commit, dest, submodules=git.submodules)
    except GitError as exc:
        raise SourceUnavailable(f"checking out commit {_named(git)} failed: {exc.message}") from None
    return dest


def _refresh(mirror: Mirror, git: GitSpec) -> None:
    had = mirror.has_commit(git.commit)
    try:
        # Without the commit: fetch now, whatever the cache time says.
        mirror.fetch(git.cache_seconds if had else 0)
    except GitError as exc:
        if not had:
            raise SourceUnavailable(
                f"commit {_named(git)} is not in this worker's mirror yet and fetching it failed: {exc.message}"
            ) from None
        log.warning("commit %s: refreshing the mirror failed (%s); running the commit it holds", git.commit, exc)
        return
    if not mirror.has_commit(git.commit):
        raise SourceUnavailable(
            f"commit {_named(git)} is not in the repository (removed by a force-push before this host fetched it?)"
        )
    if not mirror.is_reachable(git.commit, git.ref):
        raise SourceUnavailable(
            f"commit {_named(git)} is on no branch or tag of the repository any more: a force-push removed it after "
            "the run was queued"
        )


def _named(git: GitSpec) -> str:
    return f"{git.commit[:12]} ({git.ref})" if git.ref else git.commit[:12]
