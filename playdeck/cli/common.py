"""What the command modules share: exit codes, the error that carries one, small input helpers and the
session of a DB-direct command."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from playdeck.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from playdeck.auth.permissions import Principal


EXIT_RUN_FAILED = 1
EXIT_REFUSED = 2
EXIT_UNREACHABLE = 3
EXIT_SERVER_ERROR = 4
EXIT_INTERRUPTED = 130


class CommandFailed(click.ClickException):
    """A message for stderr and an exit code, instead of a traceback."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def split_list(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def default_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (containers)
        return "cli"


@contextmanager
def database_errors() -> Iterator[None]:
    """A database that cannot be used is a message and exit 1, not a traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        shown_url = make_url(get_settings().database_url).render_as_string(hide_password=True)
        reason = str(exc.orig if getattr(exc, "orig", None) is not None else exc).splitlines()[0]
        raise CommandFailed(f"cannot use the database {shown_url}: {reason}", EXIT_RUN_FAILED) from None


def shell_principal() -> Principal:
    """Who a DB-direct command acts as: whoever has the server's configuration administers it (an admin),
    under their login name."""
    from playdeck.auth.permissions import Principal, Role

    return Principal(id=0, name=default_user(), role=Role.ADMIN)


@contextmanager
def shell_session() -> Iterator[Session]:
    """A session for a DB-direct command: a database that cannot be used is a message, and the changes
    are audited as the login name of whoever runs the command, from "cli"."""
    from playdeck import audit
    from playdeck.db import session_scope

    with database_errors(), audit.acting_as(default_user(), "cli"), session_scope() as session:
        yield session
