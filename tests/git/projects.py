"""Git projects for the tests, registered straight in the DB (the registration's own checks are tested in
tests/core/test_project_registry.py): a project whose source is a repository of testing.git_servers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from playdeck import secrets
from playdeck.models import Environment, Project
from testing.git_servers import RepoBuilder


def shop_repo(base: Path, *, revert_second: bool = False) -> RepoBuilder:
    """Repository "shop" under ``base``: main with first (tag v1.0 annotated), second (tag v1.1 lightweight),
    with ``revert_second`` a revert of second, then third; a branch "feature" with one more commit."""
    builder = RepoBuilder(base, "shop")
    builder.commit("first", {"deploy/site.yml": "- hosts: all\n", "VERSION": "1.0\n"})
    builder.tag("v1.0", "release 1.0")
    second = builder.commit("second", {"VERSION": "1.1\n"})
    builder.tag("v1.1")
    if revert_second:
        builder.revert(second)
    builder.commit("third", {"VERSION": "1.2\n"})
    builder.branch("feature")
    builder.commit("feature work", {"feature.txt": "new\n"})
    builder.switch("main")
    return builder


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


def add_staged_project(
    session: Session,
    name: str,
    url: str,
    *,
    environments: tuple[str, ...] = ("staging", "production"),
    protected: tuple[str, ...] = ("production",),
    **fields: object,
) -> Project:
    """A git project whose ``environments`` all use deploy/inventory.ini, the ``protected`` ones protected."""
    project = add_git_project(
        session, name, url, environments=dict.fromkeys(environments, "deploy/inventory.ini"), **fields
    )
    for environment in project.environments:
        environment.protected = environment.name in protected
    session.flush()
    return project
