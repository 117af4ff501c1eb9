"""JSON rendered by the database, for the read paths that return many rows.

PyMySQL parses every value of a result in Python: a page of 50 runs was 2,800 values, a page of 1,000
log lines 10,000, and that parsing was the largest cost of those requests (issue 7). Rendered by the
database, a row is one value, which the API passes through as it is and a page decodes with the C JSON
decoder. These expressions render what ``playdeck.serializers`` writes, on MariaDB/MySQL and SQLite
alike; ``tests/core/test_sql_json.py`` holds the two to the same output.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String, case, func, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


def _text(value: str) -> ColumnElement[str]:
    """A constant string written into the statement, not a bound parameter: a run's JSON object had 90
    parameters, each escaped and put into the SQL text by PyMySQL on every execution (issue 24). Only our own
    constants: no quote to escape (SQLAlchemy doubles a ``%`` for PyMySQL's paramstyle)."""
    if "'" in value or "\\" in value:
        raise ValueError(f"not a plain constant: {value!r}")
    return literal_column(f"'{value}'", String)


def json_object(fields: dict[str, ColumnElement[Any]]) -> ColumnElement[str]:
    """``{"key": value, ...}`` in the order given; strings, numbers and NULL are rendered as JSON."""
    pairs: list[Any] = []
    for key, value in fields.items():
        pairs += [_text(key), value]
    return func.json_object(*pairs, type_=String)


class iso_timestamp(FunctionElement):  # noqa: N801 - reads as the SQL function it renders
    """A timestamp column as ``serializers.iso`` writes it — ``2026-01-01T10:00:00+00:00``, with
    ``.ffffff`` only when there are microseconds — or NULL."""

    type = String()
    inherit_cache = True


@compiles(iso_timestamp, "mysql")
@compiles(iso_timestamp, "mariadb")
def _iso_mysql(element, compiler, **kw) -> str:
    (column,) = element.clauses
    pattern = case((func.microsecond(column) == 0, _text("%Y-%m-%dT%H:%i:%s")), else_=_text("%Y-%m-%dT%H:%i:%s.%f"))
    return compiler.process(func.concat(func.date_format(column, pattern), _text("+00:00")), **kw)


@compiles(iso_timestamp, "sqlite")
def _iso_sqlite(element, compiler, **kw) -> str:
    # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff'; NULL stays NULL through || and substr.
    column = compiler.process(element.clauses, **kw)
    return (
        f"(substr({column}, 1, 10) || 'T' || CASE WHEN substr({column}, 21) IN ('', '000000') "
        f"THEN substr({column}, 12, 8) ELSE substr({column}, 12) END || '+00:00')"
    )


def _renders(construct: type[FunctionElement], *, mysql: str, sqlite: str) -> None:
    """Compile ``construct(x)`` from a template per database, ``{}`` standing for x."""

    def from_template(template: str):
        def render(element, compiler, **kw) -> str:
            return template.format(compiler.process(element.clauses, **kw))

        return render

    for dialect in ("mysql", "mariadb"):
        compiles(construct, dialect)(from_template(mysql))
    compiles(construct, "sqlite")(from_template(sqlite))


class json_bool(FunctionElement):  # noqa: N801
    """A SQL condition as JSON ``true``/``false`` (a bare boolean renders as 1/0 in both databases)."""

    type = String()
    inherit_cache = True


_renders(
    json_bool,
    mysql="JSON_EXTRACT(IF({}, 'true', 'false'), '$')",
    sqlite="json(CASE WHEN {} THEN 'true' ELSE 'false' END)",
)


class json_embedded(FunctionElement):  # noqa: N801
    """A column holding JSON text, embedded as the value it encodes rather than as a string."""

    type = String()
    inherit_cache = True


_renders(json_embedded, mysql="JSON_EXTRACT({}, '$')", sqlite="json({})")


class seconds_between(FunctionElement):  # noqa: N801
    """``(end - start).total_seconds()`` of two timestamp columns, exact to the microsecond; NULL if
    either is NULL."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "mysql")
@compiles(seconds_between, "mariadb")
def _seconds_mysql(element, compiler, **kw) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    # As a DOUBLE: a DECIMAL division would keep 4 decimals of the microseconds.
    return f"(CAST(TIMESTAMPDIFF(MICROSECOND, {start}, {end}) AS DOUBLE) / 1000000)"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    # Whole microseconds first, one division last: the same float as Python's total_seconds().
    return (
        f"(((strftime('%s', {end}) - strftime('%s', {start})) * 1000000 "
        f"+ CAST(substr({end}, 21, 6) AS INTEGER) - CAST(substr({start}, 21, 6) AS INTEGER)) / 1000000.0)"
    )
