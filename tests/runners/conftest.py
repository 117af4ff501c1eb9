"""Runner test fixtures: the production shape (MariaDB + Redis) with the playbooks under tests/."""

from __future__ import annotations

import pytest

from playdeck import db, projects
from playdeck.settings import Settings
from tests.conftest import configure
from tests.servers import REPO_ROOT


@pytest.fixture
def test_playbooks(monkeypatch, tmp_path, mariadb_url, redis_url) -> Settings:
    """Fresh MariaDB database and Redis db, projects' playbooks and inventories from tests/."""
    return configure(
        monkeypatch,
        seed_sample=False,
        data_dir=str(tmp_path / "data"),
        database_url=mariadb_url,
        broker_url=redis_url,
        playbook_dir=str(REPO_ROOT / "tests" / "playbooks"),
        inventory_dir=str(REPO_ROOT / "tests" / "inventory"),
    )


@pytest.fixture
def test_projects(test_playbooks: Settings) -> Settings:
    """Project "marker" (2 local hosts, records each execution) and "partial" (host2 fails)."""
    with db.session_scope() as session:
        projects.add_project(session, "marker", "marker.yml", {"dev": "local2.ini"})
        projects.add_project(session, "partial", "fail_one_host.yml", {"dev": "local2.ini"})
    return test_playbooks
