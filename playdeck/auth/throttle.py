"""Failed logins slow password guessing down: after ``FREE_FAILURES`` failures for a user name, or from an
address, within ``WINDOW``, the next attempt must wait 2, 4, 8 … up to ``MAX_DELAY`` seconds after the
last failure. The wait is enforced by refusing early attempts (429), not by holding a web worker."""

from __future__ import annotations

import datetime as dt
import logging
import math

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from playdeck.auth.models import LoginFailure
from playdeck.errors import TooManyAttempts
from playdeck.models import utcnow

log = logging.getLogger(__name__)

WINDOW = dt.timedelta(minutes=15)
FREE_FAILURES = 3
MAX_DELAY = 300


def delay_after(failures: int) -> int:
    """Seconds to wait after the last of ``failures`` recent failures."""
    if failures < FREE_FAILURES:
        return 0
    return min(MAX_DELAY, 2 ** (failures - FREE_FAILURES + 1))


def check(session: Session, name: str, address: str, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    since = now - WINDOW
    for column, value in ((LoginFailure.name, name), (LoginFailure.address, address)):
        failures, last = session.execute(
            select(func.count(), func.max(LoginFailure.failed_at)).where(
                column == value, LoginFailure.failed_at > since
            )
        ).one()
        wait = delay_after(failures)
        if wait and last is not None:
            left = (last + dt.timedelta(seconds=wait) - now).total_seconds()
            if left > 0:
                log.warning("login for %r from %s refused: %d failures, %.0f s to wait", name, address, failures, left)
                raise TooManyAttempts(
                    f"too many failed logins; try again in {math.ceil(left)} s", retry_after=math.ceil(left)
                )


def record_failure(session: Session, name: str, address: str) -> None:
    session.add(LoginFailure(name=name[:100], address=address[:64]))
    # Old rows are of no use to the window: trimmed as failures come, no job needed.
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < utcnow() - 2 * WINDOW))


def forget(session: Session, name: str) -> None:
    """A successful login clears the name's failures (the address's stay: it may be guessing others)."""
    session.execute(delete(LoginFailure).where(LoginFailure.name == name))
