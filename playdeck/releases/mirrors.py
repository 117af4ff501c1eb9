"""The mirror of a git project, built from its row and secrets in the caller's session; git runs later, with
no session open (fetches take seconds to minutes)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from playdeck import secrets
from playdeck.errors import ValidationError
from playdeck.git import GitCredential, Mirror
from playdeck.models import Project


def mirror_of(session: Session, project: Project) -> Mirror:
    """The project's mirror on this host (``<data_dir>/git/<id>.git``). ValidationError for a directory project."""
    if not project.is_git or not project.git_url:
        raise ValidationError("project", f"project '{project.name}' is not deployed from git: it has no refs")
    credential = None
    key = secrets.project_secret(session, project.id, secrets.GIT_SSH_KEY)
    password = secrets.project_secret(session, project.id, secrets.GIT_PASSWORD)
    if key:
        credential = GitCredential.ssh_key(key, project.git_known_hosts)
    elif password:
        credential = GitCredential.https(project.git_username, password)
    # Only admins register file:// URLs (playdeck.projects.registry): a stored one was allowed.
    return Mirror(str(project.id), project.git_url, credential, allow_file=project.git_url.startswith("file:"))
