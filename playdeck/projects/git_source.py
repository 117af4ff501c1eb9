"""A git project's source on this host: its credential, its mirror, and a ref resolved to a commit for a run.

The web (when a deploy is queued) and each worker (when it checks out the run's commit) keep their own mirror
of the project under their data dir (``playdeck.git.Mirror``, keyed by the project's id). Reading what is
needed from the DB is quick (``GitSource.read``, in the caller's short session); fetching is not, so
``resolve_for_run`` runs outside any transaction: the caller reads the source, closes its session, resolves,
then opens the transaction that records the run.

Twenty deploys queued together for one commit cause one fetch: the mirror's lock makes the later callers wait
for the first one's fetch and its stamp tells them it is fresh (``git_cache_seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from playdeck import secrets
from playdeck.errors import ValidationError
from playdeck.git import Commit, GitCredential, Mirror, check_ref
from playdeck.git.urls import FILE, transport
from playdeck.models import Project


def mirror_key(project_id: int) -> str:
    """The mirror's name under the data dir: the project's id, so a renamed project keeps its mirror."""
    return f"project-{project_id}"


def read_credential(session: Session, project_id: int, username: str, known_hosts: str) -> GitCredential | None:
    """The project's git credential (its SSH key with the git server's pinned host keys, or its HTTPS user and
    password/token), decrypted; None when it has none (a public repository)."""
    key = secrets.project_secret(session, project_id, secrets.GIT_SSH_KEY)
    if key is not None:
        return GitCredential.ssh_key(key, known_hosts)
    password = secrets.project_secret(session, project_id, secrets.GIT_PASSWORD)
    if password is not None:
        return GitCredential.https(username, password)
    return None


@dataclass(frozen=True)
class GitSource:
    """What fetching a git project needs, as plain values (no session kept)."""

    project_id: int
    url: str
    branch: str
    cache_seconds: int
    submodules: bool
    credential: GitCredential | None = field(default=None, repr=False)

    @classmethod
    def of_git_project(cls, session: Session, project: Project) -> GitSource:
        """``read``, or ValidationError on "project" for a directory project (it has no refs or commits)."""
        if not project.is_git or not project.git_url:
            raise ValidationError("project", f"project '{project.name}' is not deployed from git: it has no refs")
        return cls.read(session, project)

    @classmethod
    def read(cls, session: Session, project: Project) -> GitSource:
        """The source of a git project (``project.is_git``), with its credential decrypted."""
        return cls(
            project_id=project.id,
            url=project.git_url or "",
            branch=project.git_branch or "",
            cache_seconds=project.git_cache_seconds,
            submodules=project.git_submodules,
            credential=read_credential(session, project.id, project.git_username, project.git_known_hosts),
        )

    def mirror(self, root: Path | None = None) -> Mirror:
        """This host's mirror of the project (under ``root``, default the data dir's ``git/``)."""
        # The URL was checked when the project was saved; file:// ones only an administrator may save.
        return Mirror(
            mirror_key(self.project_id),
            self.url,
            self.credential,
            allow_file=transport(self.url) == FILE,
            root=root,
        )


def resolve_for_run(source: GitSource, ref: str = "") -> tuple[str, Commit]:
    """``ref`` (the project's branch when empty) checked, then resolved to a full commit on a fresh enough
    mirror: fetched first unless fetched less than the project's cache time ago. Returns the ref as recorded
    on the run and its commit. Call it with no DB transaction open. ValidationError on "ref" for a bad or unknown
    ref (``UnknownRef`` names the closest), GitError for an unreachable repository or a refused credential."""
    # Checked before anything reaches the network: an option-like ref fetches nothing.
    ref = check_ref(ref) if ref else source.branch
    mirror = source.mirror()
    mirror.fetch(source.cache_seconds)
    return ref, mirror.resolve(ref)
