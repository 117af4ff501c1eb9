"""The audit log: every mutation recorded in the transaction of the change, with who, from where, when
and what. The web layer binds the caller (``acting_as``) for the request; the CLI binds the user it acts
for; what runs with nobody bound (workers, the reaper) is recorded as ``system``."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from playdeck.errors import ValidationError
from playdeck.models import AuditEvent
from playdeck.serializers import iso

SYSTEM = "system"
MAX_PAGE = 200


@dataclass(frozen=True)
class Actor:
    name: str
    address: str = ""


_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("playdeck_audit_actor", default=None)


@contextmanager
def acting_as(name: str, address: str = "") -> Iterator[Actor]:
    actor = Actor(name, address[:64])
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def bind(name: str, address: str = "") -> contextvars.Token:
    """For a web request: bind until ``unbind`` (Flask's teardown) — a context manager cannot span hooks."""
    return _actor.set(Actor(name, address[:64]))


def unbind(token: contextvars.Token) -> None:
    _actor.reset(token)


def current_actor() -> Actor:
    return _actor.get() or Actor(SYSTEM)


def _plain(value: object) -> object:
    # Timestamps as every JSON answer writes them (``serializers.iso``), not ``str``'s "2026-01-01 10:00:00".
    return iso(value) if isinstance(value, dt.datetime) else str(value)


def _details_json(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, default=_plain)


def record(
    session: Session,
    action: str,
    target_type: str,
    target: object,
    details: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
) -> None:
    """Add the event to the caller's transaction: it commits, or rolls back, with the change."""
    who = current_actor()
    session.add(
        AuditEvent(
            actor=actor or who.name,
            address=who.address,
            action=action,
            target_type=target_type,
            target=str(target)[:255],
            details_json=_details_json(details or {}),
        )
    )


def record_many(
    session: Session, action: str, target_type: str, targets: list[object], details: dict[str, Any], *, actor: str
) -> None:
    """``record`` of one action on many targets (the reaper expiring a thousand requests): one multi-row
    INSERT instead of an ORM object per event."""
    if not targets:
        return
    who = current_actor()
    text = _details_json(details)
    rows = [{"actor": actor, "address": who.address, "action": action, "target_type": target_type,
             "target": str(target)[:255], "details_json": text} for target in targets]  # fmt: skip
    session.execute(insert(AuditEvent), rows)


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None  # an exact action, or a prefix ending in "." ("dns.")
    target_type: str | None = None
    target: str | None = None


def list_events(
    session: Session, filters: AuditFilters, *, before_id: int | None = None, limit: int = 50
) -> tuple[list[AuditEvent], bool]:
    """Newest first, ``limit`` at most (keyset pages by id), and whether older events match too."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", f"must be 1..{MAX_PAGE}")
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if filters.actor:
        query = query.where(AuditEvent.actor == filters.actor)
    if filters.action:
        if filters.action.endswith("."):
            query = query.where(AuditEvent.action.startswith(filters.action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == filters.action)
    if filters.target_type:
        query = query.where(AuditEvent.target_type == filters.target_type)
    if filters.target:
        query = query.where(AuditEvent.target == filters.target)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    found = list(session.scalars(query))
    return found[:limit], len(found) > limit
