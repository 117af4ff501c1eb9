"""The group mapping rules, managed by admins: "members of cn=deployers,ou=groups get developer on shop
and web"; each change audited. ``mapping`` applies them at every login."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from playdeck import audit
from playdeck.auth.permissions import RANK, Role
from playdeck.auth.sso.models import GROUP_LENGTH, SOURCES, GroupRule
from playdeck.auth.users import parse_role
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.models import Project, utcnow
from playdeck.serializers import iso

RULE_FIELDS = ("source", "group", "role", "projects", "zones", "keep_manual_grants")
# Labels of letters, digits, "-" and "_" (service-style owners), as the DNS pages accept zone names.
_ZONE_RE = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+")


def zone_key(name: str) -> str:
    """A zone's stored name ("Example.Test" -> "example.test."), as the zone editors' grants hold it. Built
    here, not with playdeck.dns (which builds on accounts, never the other way round)."""
    key = name.strip().lower()
    key = key if key.endswith(".") else key + "."
    if len(key) > 254 or not _ZONE_RE.fullmatch(key):
        raise ValidationError("zones", f"{name!r} is not a zone name")
    return key


def _group(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > GROUP_LENGTH:
        raise ValidationError("group", f"must be a group name or DN of 1-{GROUP_LENGTH} characters")
    if any(ord(char) < 32 for char in value):
        raise ValidationError("group", "must not contain control characters")
    return value.strip()


def _source(value: object) -> str:
    if value in (None, "", "any"):
        return ""
    if value not in SOURCES:
        raise ValidationError("source", f"must be one of {', '.join(SOURCES)} (or empty: any)")
    return str(value)


def _names(field: str, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValidationError(field, "must be a list of names")
    return sorted({item.strip() for item in value})


def _projects(session: Session, value: object) -> list[str]:
    names = _names("projects", value)
    known = set(session.scalars(select(Project.name).where(Project.name.in_(names)))) if names else set()
    missing = [name for name in names if name not in known]
    if missing:
        raise NotFound(f"project {missing[0]!r} does not exist")
    return names


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, "must be true or false")
    return value


def _check_free(session: Session, source: str, group: str, rule_id: int | None = None) -> None:
    query = select(GroupRule.id).where(GroupRule.source == source, func.lower(GroupRule.group_name) == group.lower())
    other = session.scalar(query)
    if other is not None and other != rule_id:
        raise Conflict(f"rule {other} already maps group {group!r}; change that one")


def _apply(session: Session, rule: GroupRule, fields: dict[str, Any]) -> None:
    if "source" in fields:
        rule.source = _source(fields["source"])
    if "group" in fields:
        rule.group_name = _group(fields["group"])
    if "role" in fields:
        rule.role = parse_role(fields["role"]).value
    if "projects" in fields:
        rule.projects_json = json.dumps(_projects(session, fields["projects"]))
    if "zones" in fields:
        rule.zones_json = json.dumps(sorted({zone_key(zone) for zone in _names("zones", fields["zones"])}))
    if "keep_manual_grants" in fields:
        rule.keep_manual_grants = _flag("keep_manual_grants", fields["keep_manual_grants"])


def create_rule(session: Session, fields: dict[str, Any]) -> GroupRule:
    """A new rule from ``fields`` (``RULE_FIELDS``; group and role required)."""
    for required in ("group", "role"):
        if fields.get(required) is None:
            raise ValidationError(required, "is required")
    rule = GroupRule(source="", projects_json="[]", zones_json="[]", keep_manual_grants=True)
    _apply(session, rule, fields)
    _check_free(session, rule.source, rule.group_name)
    session.add(rule)
    session.flush()
    audit.record(session, "sso.rule_create", "sso_rule", rule.id, describe(rule))
    return rule


def get_rule(session: Session, rule_id: int) -> GroupRule:
    rule = session.get(GroupRule, rule_id)
    if rule is None:
        raise NotFound(f"rule {rule_id} does not exist")
    return rule


def update_rule(session: Session, rule_id: int, fields: dict[str, Any]) -> GroupRule:
    """Change what ``fields`` names; it applies to each user at their next login."""
    rule = get_rule(session, rule_id)
    before = describe(rule)
    _apply(session, rule, fields)
    _check_free(session, rule.source, rule.group_name, rule.id)
    rule.updated_at = utcnow()
    after = describe(rule)
    changed = {key: {"before": before[key], "after": after[key]} for key in after if before[key] != after[key]}
    if changed:
        audit.record(session, "sso.rule_update", "sso_rule", rule.id, changed)
    return rule


def delete_rule(session: Session, rule_id: int) -> None:
    rule = get_rule(session, rule_id)
    audit.record(session, "sso.rule_delete", "sso_rule", rule.id, describe(rule))
    session.delete(rule)


def list_rules(session: Session) -> list[GroupRule]:
    return list(session.scalars(select(GroupRule).order_by(GroupRule.group_name, GroupRule.source, GroupRule.id)))


def describe(rule: GroupRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "source": rule.source or "any",
        "group": rule.group_name,
        "role": rule.role,
        "projects": json.loads(rule.projects_json),
        "zones": json.loads(rule.zones_json),
        "keep_manual_grants": rule.keep_manual_grants,
        "updated_at": iso(rule.updated_at) if isinstance(rule.updated_at, dt.datetime) else None,
    }


@dataclass(frozen=True)
class Access:
    """What a set of groups gives: the highest role of the matching rules, every grant they list, and
    whether hand-given grants stay (only if no matching rule says otherwise)."""

    role: Role
    projects: frozenset[str]
    zones: frozenset[str]
    keep_manual_grants: bool
    rule_ids: tuple[int, ...]


def resolve(rules: list[GroupRule], source: str, groups: tuple[str, ...]) -> Access | None:
    """The access ``groups`` at ``source`` give under ``rules``; None when no rule matches."""
    member_of = {group.casefold() for group in groups}
    matched = [
        rule for rule in rules if rule.source in ("", source) and rule.group_name.casefold() in member_of
    ]  # fmt: skip
    if not matched:
        return None
    return Access(
        role=max((Role(rule.role) for rule in matched), key=RANK.__getitem__),
        projects=frozenset(name for rule in matched for name in json.loads(rule.projects_json)),
        zones=frozenset(zone for rule in matched for zone in json.loads(rule.zones_json)),
        keep_manual_grants=all(rule.keep_manual_grants for rule in matched),
        rule_ids=tuple(sorted(rule.id for rule in matched)),
    )
