"""Schema upgrades through Alembic, callable from the CLI, `playdeck up` and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(revision: str = "head") -> None:
    command.upgrade(alembic_config(), revision)


def revision(message: str, autogenerate: bool = True) -> None:
    """Developer helper: write a new migration from the difference between models and the DB."""
    command.revision(alembic_config(), message=message, autogenerate=autogenerate)
