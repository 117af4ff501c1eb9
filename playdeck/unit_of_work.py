"""Messages to the broker go out after the transaction that made them true has committed, never before.

A service takes the caller's ``Session``, changes rows and records what to send (``send_after_commit``);
it commits nothing. The caller (a view, a CLI command, the worker, the reaper) owns the transaction,
usually ``db.session_scope()``. Every session of ``db``'s factory carries the hooks below: its commit
sends what was recorded, in that order; a rollback drops it (a savepoint's rollback, what was recorded
inside the savepoint). So a worker never gets a run id whose row it cannot read yet, and a change that
rolled back sends nothing.

A send that fails is logged: the run it was for stays queued, and the reaper sends it again. One recorded
with ``must_succeed`` (a new run, whose requester must hear of it) is raised to the caller by
``db.session_scope`` once the commit is done: a ``DispatchError``, 503, "recorded but not yet sent".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

log = logging.getLogger(__name__)

_PENDING = "playdeck.unit_of_work.pending"
_FAILED = "playdeck.unit_of_work.failed"
_HOOKED = "playdeck.unit_of_work.hooked"


@dataclass(frozen=True)
class _Message:
    send: Callable[[], object]
    must_succeed: bool
    # The innermost transaction open when it was recorded: if that rolls back (a savepoint), it is dropped.
    transaction: SessionTransaction | None


def send_after_commit(session: Session, send: Callable[[], object], must_succeed: bool = False) -> None:
    """Call ``send`` once ``session``'s transaction has committed; never if it rolls back."""
    if not session.info.get(_HOOKED):
        # A session made elsewhere would never send: refuse rather than lose the message.
        raise RuntimeError("send_after_commit needs a session of playdeck.db, whose commit sends the messages")
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append(_Message(send, must_succeed, transaction))


def raise_failed_send(session: Session) -> None:
    """After the commit: the first failure of a send that had to succeed, raised to the caller."""
    failed = session.info.pop(_FAILED, None)
    if failed is not None:
        raise failed


def install(factory: sessionmaker[Session]) -> None:
    """Hook the sending onto every session ``factory`` makes."""
    factory.configure(info={_HOOKED: True})
    event.listen(factory, "after_commit", _send_pending)
    event.listen(factory, "after_soft_rollback", _drop_rolled_back)
    event.listen(factory, "after_transaction_end", _drop_uncommitted)


def _send_pending(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint released: the transaction around it may still roll back
    for message in session.info.pop(_PENDING, []):
        try:
            message.send()
        # Raising here would leave the session half-committed; a failure is logged or handed on instead.
        except Exception as exc:
            if message.must_succeed:
                session.info.setdefault(_FAILED, exc)
            else:
                log.warning("%s; a queued run is sent again by the reaper", exc)


def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending and previous.nested:
        session.info[_PENDING] = [message for message in pending if not _within(message.transaction, previous)]


def _drop_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended: a commit has sent its messages, so what is left was never committed
    # (a rollback, or a session closed without committing).
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False
