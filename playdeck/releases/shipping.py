"""What deploying a ref to an environment ships: the commits between the environment's deployed commit (its
last successful real deploy) and the chosen one, or, when the chosen one is older, that this is a rollback.

The mirror is fetched per the project's cache time (with no argument from the caller) and read with no
session open; the user's ref is resolved by the mirror (``Mirror.resolve``: checked, matched in Python).
"""

from __future__ import annotations

from typing import Any

from playdeck.commit_label import short_sha
from playdeck.db import session_scope
from playdeck.git import ChangedCommit, Changes, Commit, Mirror
from playdeck.models import Run
from playdeck.projects import get_environment, get_project
from playdeck.projects.git_source import GitSource
from playdeck.runs.queries import last_successful_deploy
from playdeck.serializers import iso

# Commits listed each way; the totals count them all.
LISTED = 50


def commit_json(commit: Commit, is_revert: bool | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "commit": commit.sha,
        "short_commit": short_sha(commit.sha),
        "subject": commit.subject,
        "author": commit.author,
        "date": iso(commit.date),
    }
    if is_revert is not None:
        data["revert"] = is_revert
    return data


def _listed(changes: list[ChangedCommit]) -> list[dict[str, Any]]:
    return [commit_json(change.commit, change.is_revert) for change in changes]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary(changes: Changes, same: bool) -> str:
    """In words: "3 commits, including 2 reverts", "older than what is deployed: a rollback", ..."""
    if same:
        return "the deployed commit: nothing changes"
    if changes.rollback:
        return f"older than what is deployed: a rollback (undoes {_plural(changes.removed_total, 'commit')})"
    text = _plural(changes.added_total, "commit")
    if changes.reverts:
        text += f", including {_plural(changes.reverts, 'revert')}"
    if changes.removed_total:
        # Neither is an ancestor of the other: another branch, or a force-push rewrote what is deployed.
        text += f"; undoes {_plural(changes.removed_total, 'deployed commit')} it lacks"
    return text


def _compare(mirror: Mirror, old: str | None, new: str) -> tuple[Changes | None, str]:
    if old is None:
        return None, "nothing has been deployed there from git yet"
    if not mirror.has_commit(old):
        return None, f"the deployed commit {short_sha(old)} is no longer in the repository (force-pushed away?)"
    changes = mirror.commits_between(old, new, LISTED)
    return changes, summary(changes, old == new)


def _deployed(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "run": run.id,
        "ref": run.ref,
        "commit": run.commit_sha,
        "short_commit": short_sha(run.commit_sha),
        "subject": run.commit_subject,
        "version": run.version,
    }


def what_will_ship(project_name: str, environment_name: str, ref: str) -> dict[str, Any]:
    """The environment's deployed commit, the commit ``ref`` names, and what lies between. UnknownRef (400,
    with the closest names) for a ref the repository lacks; GitError when the mirror cannot be fetched."""
    with session_scope() as session:
        project = get_project(session, project_name)
        environment = get_environment(project, environment_name)
        source = GitSource.of_git_project(session, project)
        run_id = last_successful_deploy(session, environment.id)
        deployed = _deployed(session.get(Run, run_id) if run_id is not None else None)
    mirror = source.mirror()
    mirror.fetch(source.cache_seconds)
    chosen = mirror.resolve(ref)
    changes, text = _compare(mirror, deployed["commit"] if deployed else None, chosen.sha)
    return {
        "ref": ref,
        "deployed": deployed,
        "chosen": commit_json(chosen),
        "rollback": bool(changes and changes.rollback),
        "summary": text,
        "added": _listed(changes.added) if changes else [],
        "added_total": changes.added_total if changes else 0,
        "removed": _listed(changes.removed) if changes else [],
        "removed_total": changes.removed_total if changes else 0,
        "reverts": changes.reverts if changes else 0,
    }
