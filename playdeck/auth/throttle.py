"""Failed logins slow password guessing down, without letting one attacker lock other people out.

Two bounds, each counting failures within ``WINDOW``; past its free failures, the next attempt must wait
2, 4, 8 … up to ``MAX_DELAY`` seconds after the last failure (refused with 429, not by holding a worker):

- per (name, address) pair, after ``FREE_FAILURES``: one address guessing one name is slowed down at
  once, while other users behind the same address (a reverse proxy, an office NAT) log in as usual, and
  the user logs in from their other addresses;
- per name, after the looser ``NAME_FREE_FAILURES``, from any address: guessing one name from many
  addresses stays slow too. Addresses the user logged in from within ``KNOWN_ADDRESS_DAYS`` (the audit
  log's ``login.success``) are exempt from this bound, so an attacker cannot lock a user out of the places
  they work from — only from new ones, for at most ``MAX_DELAY`` seconds at a time.

A per-address bound alone (what this once was) let one address lock out everyone behind a proxy.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from playdeck.auth.models import LoginFailure
from playdeck.errors import TooManyAttempts
from playdeck.models import AuditEvent, utcnow

log = logging.getLogger(__name__)

WINDOW = dt.timedelta(minutes=15)
FREE_FAILURES = 3
NAME_FREE_FAILURES = 10
MAX_DELAY = 300
KNOWN_ADDRESS_DAYS = 90


def delay_after(failures: int, free: int = FREE_FAILURES) -> int:
    """Seconds to wait after the last of ``failures`` recent failures, ``free`` of them without a wait."""
    if failures < free:
        return 0
    return min(MAX_DELAY, 2 ** (failures - free + 1))


def _seconds_to_wait(session: Session, where: list[ColumnElement[bool]], free: int, now: dt.datetime) -> int:
    failures, last = session.execute(
        select(func.count(), func.max(LoginFailure.failed_at)).where(*where, LoginFailure.failed_at > now - WINDOW)
    ).one()
    wait = delay_after(failures, free)
    if not wait or last is None:
        return 0
    return max(0, math.ceil((last + dt.timedelta(seconds=wait) - now).total_seconds()))


def known_address(session: Session, name: str, address: str, now: dt.datetime | None = None) -> bool:
    """Whether ``name`` logged in with their password from ``address`` recently."""
    since = (now or utcnow()) - dt.timedelta(days=KNOWN_ADDRESS_DAYS)
    found = session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.target_type == "user",
            AuditEvent.target == name[:255],
            AuditEvent.action == "login.success",
            AuditEvent.address == address[:64],
            AuditEvent.at > since,
        )
        .limit(1)
    )
    return found is not None


def check(session: Session, name: str, address: str, now: dt.datetime | None = None) -> None:
    """Raise TooManyAttempts if this attempt must wait (before the password is even looked at)."""
    now = now or utcnow()
    name, address = name[:100], address[:64]
    left = _seconds_to_wait(session, [LoginFailure.name == name, LoginFailure.address == address], FREE_FAILURES, now)
    bound = "from this address"
    if not left:
        left = _seconds_to_wait(session, [LoginFailure.name == name], NAME_FREE_FAILURES, now)
        bound = "from new addresses"
        # Counted first: the audit log is read only for a name under attack.
        if left and known_address(session, name, address, now):
            left = 0
    if left:
        log.warning("login for %r from %s refused: too many failures %s, %d s to wait", name, address, bound, left)
        raise TooManyAttempts(f"too many failed logins; try again in {left} s", retry_after=left)


def record_failure(session: Session, name: str, address: str) -> None:
    session.add(LoginFailure(name=name[:100], address=address[:64]))
    # Old rows are of no use to the window: trimmed as failures come, no job needed.
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < utcnow() - 2 * WINDOW))


def forget(session: Session, name: str, address: str) -> None:
    """A successful login clears the failures of its (name, address) pair only: failures of the name from
    elsewhere may be someone guessing it, and must keep counting."""
    session.execute(delete(LoginFailure).where(LoginFailure.name == name[:100], LoginFailure.address == address[:64]))
