"""`playdeck db upgrade` on a fresh data dir: the schema, the sample project, and clear failures."""

from __future__ import annotations

import stat

import pytest
from sqlalchemy import inspect

from playdeck import db
from playdeck.projects import list_projects
from playdeck.settings import get_settings
from tests.cli.cli_support import playdeck
from tests.conftest import free_port


def project_environments() -> dict[str, list[str]]:
    with db.session_scope() as session:
        return {project.name: [env.name for env in project.environments] for project in list_projects(session)}


def test_upgrade_creates_the_schema_and_the_sample_project_once() -> None:
    settings = get_settings()  # the fresh, empty data dir every test gets
    assert not settings.data_dir.exists()

    first = playdeck("db", "upgrade")
    second = playdeck("db", "upgrade")

    assert first.returncode == 0, first.stderr
    assert "Registered the sample project 'sampleapp' (production, staging)" in first.stdout
    assert (settings.data_dir / "playdeck.db").is_file()
    assert {"projects", "environments", "runs", "run_events", "run_host_summaries", "alembic_version"} <= set(
        inspect(db.get_engine()).get_table_names()
    )
    assert project_environments() == {"sampleapp": ["production", "staging"]}

    assert second.returncode == 0, second.stderr
    assert "Registered" not in second.stdout
    assert project_environments() == {"sampleapp": ["production", "staging"]}


def test_upgrade_without_sample_leaves_the_install_empty() -> None:
    result = playdeck("db", "upgrade", "--no-sample")

    assert result.returncode == 0, result.stderr
    assert "runs" in inspect(db.get_engine()).get_table_names()
    assert project_environments() == {}


def test_unreachable_database_fails_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYDECK_DATABASE_URL", f"mysql+pymysql://playdeck:secret@127.0.0.1:{free_port()}/playdeck")

    result = playdeck("db", "upgrade")

    assert result.returncode == 1
    assert "cannot upgrade the database mysql+pymysql://playdeck:***@127.0.0.1" in result.stderr
    assert "Can't connect" in result.stderr
    assert "secret" not in result.stderr


def test_upgrade_makes_an_older_world_readable_data_dir_private() -> None:
    settings = get_settings()
    settings.data_dir.mkdir(mode=0o755)
    settings.data_dir.chmod(0o755)  # as an older version (or the umask) left it

    done = playdeck("db", "upgrade")

    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((settings.data_dir / "playdeck.db").stat().st_mode) == 0o600
