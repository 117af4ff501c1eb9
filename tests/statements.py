"""What SQL a piece of code sends: the statement-count tests' recorder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from playdeck import db


@contextmanager
def recorded_statements() -> Iterator[list[tuple[str, int]]]:
    """Every statement sent on the engine meanwhile, with the rows the driver reported (-1: unknown)."""
    statements: list[tuple[str, int]] = []

    def after_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, cursor.rowcount))

    engine = db.get_engine()
    event.listen(engine, "after_cursor_execute", after_execute)
    try:
        yield statements
    finally:
        event.remove(engine, "after_cursor_execute", after_execute)
