"""Alembic migrations build exactly the models' schema, on SQLite and MariaDB, and downgrade cleanly."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from playdeck import db, migrate
from playdeck.models import Base
from tests.conftest import configure


def schema_drift() -> list:
    with db.get_engine().connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_migrations_match_the_models_and_round_trip(backend, monkeypatch, tmp_path, request):
    url = request.getfixturevalue("mariadb_url") if backend == "mariadb" else f"sqlite:///{tmp_path}/m.db"
    configure(monkeypatch, seed_sample=False, data_dir=str(tmp_path / "data"), database_url=url)
    assert schema_drift() == []
    command.downgrade(migrate.alembic_config(), "base")
    migrate.upgrade()
    assert schema_drift() == []
