"""Git projects for the tests, registered straight in the DB (the registration's own checks are tested in
tests/core/test_project_registry.py): a project whose source is a repository of testing.git_servers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from playdeck import secrets
from playdeck.models import Environment, Project


def add_git_project(
    session: Session,
    name: str,
    url: str,
    *,
    branch: str = "main",
    playbook: str = "deploy/site.yml",
    environments: dict[str, str] | None = None,
    token: str | None = None,
    **fields: object,
) -> Project:
    """``environments``: name → inventory path in the repository (default staging → deploy/inventory.ini);
    ``token``: the HTTPS password of user "deploy"; ``fields``: more Project columns (git_cache_seconds, …)."""
    project = Project(
        name=name,
        playbook=playbook,
        source_kind="git",
        git_url=url,
        git_branch=branch,
        git_username="deploy" if token else "",
        **fields,
    )
    for env_name, inventory in (environments or {"staging": "deploy/inventory.ini"}).items():
        project.environments.append(Environment(name=env_name, inventory=inventory))
    session.add(project)
    session.flush()
    if token:
        secrets.set_secret(session, name, None, secrets.GIT_PASSWORD, token, who="tests")
    return project
