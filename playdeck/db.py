"""Engine and short-lived sessions.

Every unit of DB work opens a session with ``session_scope()`` and closes it at once, so no connection
or transaction is held while a playbook runs (MySQL closes idle connections after ``wait_timeout``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from playdeck import private_files, unit_of_work
from playdeck.settings import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

_lock = threading.Lock()
_engine: Engine | None = None
_sessionmaker: sessionmaker[Session] | None = None


def make_engine(url: str, *, pool_recycle: int | None = None, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(mode=private_files.DIR_MODE, parents=True, exist_ok=True)
            private_files.create_private_file(Path(database))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            # WAL lets the web process read while a worker writes events; busy_timeout makes writers
            # from several processes wait for each other instead of failing.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    options = {
        # pre-ping replaces a connection the server closed while it sat in the pool; recycle keeps
        # connections younger than wait_timeout in the first place.
        "pool_pre_ping": True,
        "pool_recycle": get_settings().pool_recycle if pool_recycle is None else pool_recycle,
        # Each short session must see rows other processes committed (claims, cancel requests).
        "isolation_level": "READ COMMITTED",
        # No ROLLBACK round trip each time a connection goes back to the pool: every session_scope has
        # committed or rolled back by then, and a Connection closed inside a transaction rolls it back
        # itself. That ROLLBACK was 2 of the 11 round trips of an API request (issue 7).
        "pool_reset_on_return": None,
    }
    options.update(kwargs)
    return create_engine(url, **options)


def get_engine() -> Engine:
    global _engine, _sessionmaker
    with _lock:
        if _engine is None:
            _engine = make_engine(get_settings().database_url)
            _sessionmaker = sessionmaker(_engine, expire_on_commit=False)
            # Messages recorded on a session (unit_of_work.send_after_commit) go out when it commits.
            unit_of_work.install(_sessionmaker)
        return _engine


def get_sessionmaker() -> sessionmaker[Session]:
    get_engine()
    assert _sessionmaker is not None
    return _sessionmaker


@contextmanager
def session_scope() -> Iterator[Session]:
    """One short unit of work: commit on success (then the messages it recorded are sent), roll back on
    error (and they are dropped), always close. A send that had to succeed and failed is raised here,
    after the commit (``unit_of_work``)."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    unit_of_work.raise_failed_send(session)


# What runs Core statements (selects of columns, updates by key): a Session or, cheaper, a Connection.
Executor = Session | Connection


@contextmanager
def connection_scope() -> Iterator[Connection]:
    """``session_scope`` without the ORM: one short unit of work on a Connection, for statements of
    columns, not entities. The Session's bookkeeping (its transaction object, identity map, flush
    check) cost 0.3 ms per unit of work, as much as the query it wrapped (issue 7). Commits on success,
    rolls back on error, always returns the connection to the pool."""
    with get_engine().begin() as connection:
        yield connection


def unavailable(exc: BaseException) -> bool:
    """True for errors that say the DB could not be reached (down, restarting, connection dropped),
    as opposed to a query the DB refused."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def retry_while_unavailable(work: Callable[[], T], patience: float, what: str) -> T:
    """Call ``work`` (which opens its own ``session_scope``) until it succeeds, retrying while the DB is
    unreachable, for up to ``patience`` seconds; then the last error is raised. ``work`` must be safe
    to repeat: a commit whose reply was lost may have been applied."""
    deadline = time.monotonic() + patience
    delay = 0.2
    while True:
        try:
            return work()
        except DBAPIError as exc:
            if not unavailable(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("%s: DB unavailable (%s); retrying in %.1f s", what, exc.orig, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def dispose_after_fork() -> None:
    """Forget connections inherited from the parent process without closing the parent's sockets."""
    if _engine is not None:
        _engine.dispose(close=False)


def reset_engine() -> None:
    """Drop the cached engine (tests switch databases; settings change)."""
    global _engine, _sessionmaker
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _sessionmaker = None
