"""Runner test fixtures: projects over the playbooks under tests/ (see ``test_playbooks``)."""

from __future__ import annotations

import pytest

from playdeck import db, projects
from playdeck.settings import Settings


@pytest.fixture
def test_projects(test_playbooks: Settings) -> Settings:
    """Project "marker" (2 local hosts, records each execution) and "partial" (host2 fails)."""
    with db.session_scope() as session:
        projects.add_project(session, "marker", "marker.yml", {"dev": "local2.ini"})
        projects.add_project(session, "partial", "fail_one_host.yml", {"dev": "local2.ini"})
    return test_playbooks
