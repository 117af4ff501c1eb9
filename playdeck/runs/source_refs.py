"""What a deploy runs of its project's source, settled when it is queued: a git project's ref resolved to a full
commit, which the run then executes exactly, even if the branch moves meanwhile.

``resolved`` runs before the transaction that records the run (it may fetch the project's mirror, which takes
seconds: never inside a transaction); ``check``, inside it, refuses what does not fit the project.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, TypeVar

from playdeck import projects
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from playdeck.git.history import check_sha
from playdeck.models import Project
from playdeck.projects.git_source import GitSource, resolve_for_run

# Run.commit_subject's length.
MAX_SUBJECT_CHARS = 255


class SourceRequest(Protocol):
    """The fields of a run request (``playdeck.runs.requests.RunRequest``) this module reads and fills in."""

    project: str
    ref: str
    commit_sha: str | None
    commit_subject: str


Request = TypeVar("Request", bound=SourceRequest)


def resolved(request: Request) -> Request:
    """``request`` with its commit filled in when its project is a git project (the ref, default the project's
    branch, resolved on a mirror fetched unless fresh enough). A request that names its commit already (a
    relaunch, a retry, a rollback) is returned as it is. Reads the project in a short session of its own and
    fetches after closing it: call it with no transaction open."""
    if request.commit_sha is not None:
        return request
    if not isinstance(request.ref, str):
        raise ValidationError("ref", "must be a branch, tag or commit name")
    if not isinstance(request.project, str) or not request.project:
        return request  # request_run says it is required
    with session_scope() as session:
        project = projects.get_project(session, request.project)
        # An archived project is refused before its repository is asked anything (request_run refuses it too).
        projects.require_deployable(project)
        source = GitSource.read(session, project) if project.is_git else None
    if source is None:
        return request  # check() refuses a ref for a directory project
    ref, commit = resolve_for_run(source, request.ref)
    return dataclasses.replace(request, ref=ref, commit_sha=commit.sha, commit_subject=commit.subject)


def check(request: SourceRequest, project: Project) -> None:
    """In the transaction that records the run: a git project's run has its commit (``resolved``); a directory
    project has no refs."""
    if not project.is_git:
        if request.ref or request.commit_sha:
            raise ValidationError(
                "ref",
                f"project '{project.name}' deploys from a directory on the server: it has no branches, tags or "
                "commits (give a version instead)",
            )
        return
    if request.commit_sha is None:
        raise ValidationError("ref", "was not resolved to a commit (git deploys are queued through requests.resolve)")
    check_sha(request.commit_sha)


def subject(text: str) -> str:
    return text[:MAX_SUBJECT_CHARS]
