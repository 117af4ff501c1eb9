"""Freeze windows, stored: create, change, delete and list them (release managers and admins; the caller has
checked the role), and where an environment stands now (``status_at``), read by the deploy rule
(``freeze_rule``), the API, the dashboard and the deploy form.

Windows may overlap (a global New Year freeze over a team's weekend freeze): evaluation chains them
(``freeze_calendar``), so nothing about an overlap is refused here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from playdeck import audit, projects
from playdeck.db import Executor
from playdeck.errors import NotFound, ValidationError
from playdeck.inputs import check_text
from playdeck.models import Environment, FreezeWindow, utcnow
from playdeck.release_control import freeze_calendar as calendar
from playdeck.release_control import freeze_revision
from playdeck.release_control.freeze_calendar import ADHOC, KINDS, WEEKLY, YEARLY, Calendar, FreezeStatus, Occurrence
from playdeck.serializers import iso

FIELDS = ("name", "kind", "timezone", "start", "end", "reason", "project", "environment")
# What a PATCH may change: a window keeps its scope (delete it and add one elsewhere).
CHANGEABLE = ("name", "kind", "timezone", "start", "end", "reason")
MAX_NAME_CHARS = 100
MAX_REASON_CHARS = 1000
DEFAULT_TIMEZONE = "UTC"
EXAMPLES = {WEEKLY: "'Fri 16:00'", YEARLY: "'Dec 20' or 'Dec 20 18:00'", ADHOC: "'2026-12-24 18:00'"}


def checked_text(value: object, field_name: str, most: int, *, required: bool, lines: bool = False) -> str:
    """Text of at most ``most`` characters; several lines only with ``lines`` (a reason, not a name)."""
    if not isinstance(value, str) or len(value) > most or (required and not value.strip()):
        need = "non-empty text" if required else "text"
        raise ValidationError(field_name, f"must be {need} of at most {most} characters")
    allowed = "\n\t" if lines else ""
    if any(ord(ch) < 32 and ch not in allowed or ord(ch) == 127 for ch in value):
        raise ValidationError(field_name, "must not contain control characters")
    return check_text(value.strip(), field_name)


def _specs(kind: str, where: Any, start: object, end: object) -> dict[str, Any]:
    """The stored columns of a window's start and end, checked: parsed (400 naming the field), and never
    equal; an ad hoc window's end after its start."""
    if kind == WEEKLY:
        first, last = calendar.parse_weekly(start, "start"), calendar.parse_weekly(end, "end")
        texts = calendar.weekly_text(first), calendar.weekly_text(last)
    elif kind == YEARLY:
        first, last = calendar.parse_yearly(start, "start"), calendar.parse_yearly(end, "end")
        texts = calendar.yearly_text(first), calendar.yearly_text(last)
    else:
        first = calendar.parse_local(start, "start", where, later=False)
        last = calendar.parse_local(end, "end", where, later=True)
        if last <= first:
            raise ValidationError("end", "is before the start: an ad hoc window must end after it starts")
        texts = tuple(f"{moment.astimezone(where):%Y-%m-%d %H:%M}" for moment in (first, last))
        naive = tuple(moment.replace(tzinfo=None) for moment in (first, last))
        return {"start_spec": texts[0], "end_spec": texts[1], "starts_at": naive[0], "ends_at": naive[1]}
    if first == last:
        raise ValidationError("end", "is the start: a window must last (to freeze all the time, use an ad hoc window)")
    return {"start_spec": texts[0], "end_spec": texts[1], "starts_at": None, "ends_at": None}


def _columns(given: Mapping[str, Any]) -> dict[str, Any]:
    """The stored columns of a window's fields (every one given), checked."""
    kind = given.get("kind")
    if kind not in KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}")
    where = calendar.zone(given.get("timezone"))
    reason = checked_text(given.get("reason", ""), "reason", MAX_REASON_CHARS, required=kind == ADHOC, lines=True)
    return {
        "name": checked_text(given.get("name"), "name", MAX_NAME_CHARS, required=True),
        "kind": kind,
        "timezone": where.key,
        "reason": reason,
        **_specs(kind, where, given.get("start"), given.get("end")),
    }


def _scope(session: Session, given: Mapping[str, Any]) -> Environment | None:
    """The environment a new window freezes (project and environment given), or None for every one."""
    project, environment = given.get("project"), given.get("environment")
    if project is None and environment is None:
        return None
    if not isinstance(project, str) or not project or not isinstance(environment, str) or not environment:
        raise ValidationError(
            "environment", "give both project and environment (one environment's window), or neither (global)"
        )
    return projects.get_environment(projects.get_project(session, project), environment)


def _refuse_unknown(given: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValidationError(unknown[0], f"unknown field; known: {', '.join(allowed)}")


def _ended(columns: Mapping[str, Any]) -> bool:
    return columns["kind"] == ADHOC and columns["ends_at"] <= utcnow()


def create_window(session: Session, given: Mapping[str, Any], who: str | None = None) -> FreezeWindow:
    _refuse_unknown(given, FIELDS)
    columns = _columns({"timezone": DEFAULT_TIMEZONE, **given})
    if _ended(columns):
        raise ValidationError("end", "is in the past: this ad hoc window would never freeze anything")
    environment = _scope(session, given)
    window = FreezeWindow(
        **columns,
        environment_id=environment.id if environment else None,
        created_by=who or audit.current_actor().name,
        created_at=utcnow(),
    )
    session.add(window)
    session.flush()
    freeze_revision.changed(session)
    audit.record(session, "freeze.create", "freeze_window", window.id, _audited(window, environment), actor=who)
    return window


def get_window(session: Session, window_id: int) -> FreezeWindow:
    window = session.get(FreezeWindow, window_id)
    if window is None:
        raise NotFound(f"freeze window {window_id} does not exist")
    return window


def update_window(session: Session, window_id: int, given: Mapping[str, Any], who: str | None = None) -> FreezeWindow:
    """The window with the fields given changed; the others as they were (and checked again with them)."""
    _refuse_unknown(given, CHANGEABLE)
    if not given:
        raise ValidationError("body", f"nothing to change: give any of {', '.join(CHANGEABLE)}")
    window = get_window(session, window_id)
    stored = {"name": window.name, "kind": window.kind, "timezone": window.timezone, "reason": window.reason}
    if window.kind == given.get("kind", window.kind):
        stored |= {"start": window.start_spec, "end": window.end_spec}
    columns = _columns({**stored, **given})
    for name, value in columns.items():
        setattr(window, name, value)
    freeze_revision.changed(session)
    audit.record(session, "freeze.update", "freeze_window", window.id, _audited(window, window.environment), actor=who)
    return window


def delete_window(session: Session, window_id: int, who: str | None = None) -> None:
    window = get_window(session, window_id)
    details = _audited(window, window.environment)
    session.delete(window)
    freeze_revision.changed(session)
    audit.record(session, "freeze.delete", "freeze_window", window_id, details, actor=who)


def _audited(window: FreezeWindow, environment: Environment | None) -> dict[str, Any]:
    return {
        "name": window.name,
        "scope": _scope_name(environment),
        "kind": window.kind,
        "timezone": window.timezone,
        "start": window.start_spec,
        "end": window.end_spec,
        "reason": window.reason,
    }


def _scope_name(environment: Environment | None) -> str:
    return "global" if environment is None else f"{environment.project.name}/{environment.name}"


# --- reading ------------------------------------------------------------------------------------------------


def list_windows(session: Session, project: str | None = None, environment: str | None = None) -> list[FreezeWindow]:
    """Every window (global ones first), or those that apply to one environment (its own and the global ones)."""
    query = (
        select(FreezeWindow)
        .options(selectinload(FreezeWindow.environment).selectinload(Environment.project))
        .order_by(FreezeWindow.environment_id.is_not(None), FreezeWindow.id)
    )
    if project is not None or environment is not None:
        target = _scope(session, {"project": project, "environment": environment})
        query = query.where(or_(FreezeWindow.environment_id.is_(None), FreezeWindow.environment_id == target.id))  # type: ignore[union-attr]
    return list(session.scalars(query))


def calendar_at(session: Executor, at: dt.datetime) -> Calendar:
    """Every window, ready to evaluate at ``at`` (aware), as of the caller's transaction: kept between calls
    until a window changes (``freeze_revision``)."""
    return Calendar.of_groups(freeze_revision.groups(session), at)


def status_at(session: Session, environment_id: int, at: dt.datetime | None = None) -> FreezeStatus:
    moment = at or dt.datetime.now(dt.UTC)
    return calendar_at(session, moment).status(environment_id)


# --- JSON ----------------------------------------------------------------------------------------------------


def window_json(window: FreezeWindow) -> dict[str, Any]:
    environment = window.environment
    return {
        "id": window.id,
        "name": window.name,
        "scope": _scope_name(environment),
        "project": environment.project.name if environment else None,
        "environment": environment.name if environment else None,
        "kind": window.kind,
        "timezone": window.timezone,
        "start": window.start_spec,
        "end": window.end_spec,
        "starts_at": iso(window.starts_at),
        "ends_at": iso(window.ends_at),
        "label": freeze_revision.parsed(window).label,
        "reason": window.reason,
        "created_by": window.created_by,
        "created_at": iso(window.created_at),
    }


def occurrence_json(occurrence: Occurrence) -> dict[str, Any]:
    window = occurrence.window
    return {
        "window_id": window.id,
        "name": window.name,
        "kind": window.kind,
        "global": window.environment_id is None,
        "label": window.label,
        "reason": window.reason,
        "starts_at": iso(occurrence.start),
        "ends_at": iso(occurrence.end),
        "starts_local": calendar.local_text(occurrence.start, window.where),
        "ends_local": calendar.local_text(occurrence.end, window.where),
    }


def status_json(status: FreezeStatus) -> dict[str, Any]:
    """``frozen``; ``until``: when deploys are allowed again (the end of the chain of windows in effect);
    ``current``: the windows in effect; ``chain``: those that follow them without a gap; ``next``: the next
    window after ``until`` (or after now)."""
    last = max(status.current, key=lambda held: held.end) if status.current else None
    last = status.chain[-1] if status.chain else last
    return {
        "frozen": status.frozen,
        "until": iso(status.until),
        # In the zone of the window that ends the chain: "Mon 2027-03-29 08:00 CEST".
        "until_local": calendar.local_text(last.end, last.window.where) if last else None,
        "open_ended": status.open_ended,
        "current": [occurrence_json(held) for held in status.current],
        "chain": [occurrence_json(held) for held in status.chain],
        "next": occurrence_json(status.next) if status.next else None,
    }


def statuses_json(session: Executor, environment_ids: Iterable[int], at: dt.datetime | None = None) -> dict[int, Any]:
    """Each environment's ``status_json`` at ``at`` (default now), the windows read once."""
    ids = list(environment_ids)
    found = calendar_at(session, at or dt.datetime.now(dt.UTC))
    # Environments with no window of their own share the global windows' status: worked out once (the
    # dashboard asks for every environment).
    shared = None
    statuses = {}
    for environment_id in ids:
        if found.has_own(environment_id):
            statuses[environment_id] = status_json(found.status(environment_id))
        else:
            shared = shared or status_json(found.status(None))
            statuses[environment_id] = shared
    return statuses
