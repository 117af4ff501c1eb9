"""The database server's clock, for heartbeats and for judging them.

A heartbeat written with the worker host's clock and judged with the reaper host's clock shifts the
lost bound by their skew: a worker 60 s behind has its live runs declared lost. Written and compared
with the one clock every process shares, the database's, a heartbeat's age is exact whatever the hosts'
clocks say. (Other timestamps — started, finished — stay the hosts' own: they are shown, not judged.)
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement


class database_utcnow(FunctionElement):  # noqa: N801 - reads as the SQL function it renders
    """The database's current UTC time with microseconds, as a SQL expression (naive, like every column)."""

    type = DateTime()
    inherit_cache = True


@compiles(database_utcnow, "mysql")
@compiles(database_utcnow, "mariadb")
def _mysql(element, compiler, **kw) -> str:
    return "UTC_TIMESTAMP(6)"


@compiles(database_utcnow, "sqlite")
def _sqlite(element, compiler, **kw) -> str:
    # %f is seconds with milliseconds; padded to the microseconds SQLAlchemy stores DATETIMEs with.
    return "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')"


@compiles(database_utcnow)
def _default(element, compiler, **kw) -> str:
    return "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')"


def database_time(session: Session) -> dt.datetime:
    """What the database's clock says now."""
    return session.scalar(select(database_utcnow()))
