"""The groups a person is a member of, as DNs (what the group mapping rules name).

Under ``ldap_group_base``: the group entries that list the person as a ``member``; with nested groups, Active
Directory resolves the nesting itself (the LDAP_MATCHING_RULE_IN_CHAIN matching rule), elsewhere the groups
that list those groups are walked, level by level, at most ``ldap_nesting_depth`` levels (a cycle ends the
walk, it does not loop). Without a group base: the person entry's ``memberOf`` (direct groups only).

A person in more than ``ldap_max_groups`` groups is refused: a list that long is a misconfiguration (or an
attack on the login's time and memory), and guessing which groups to drop could drop the one that matters.
"""

from __future__ import annotations

from ldap3 import Connection
from ldap3.utils.conv import escape_filter_chars

from playdeck.auth.ldap.connection import search
from playdeck.auth.ldap.people import Person
from playdeck.errors import Forbidden
from playdeck.settings import Settings

# Active Directory's "member of, at any depth" matching rule.
IN_CHAIN = "1.2.840.113556.1.4.1941"
# Groups looked up per query of the walk: one filter stays a reasonable size.
WALK_CHUNK = 50


class TooManyGroups(Forbidden):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"your directory account is in more than {limit} groups, more than Playdeck accepts; "
            "ask an administrator (PLAYDECK_LDAP_MAX_GROUPS)"
        )


def _group_class(settings: Settings) -> str:
    return "(objectClass=group)" if settings.ldap_active_directory else "(objectClass=groupOfNames)"


def _members_filter(settings: Settings, dns: list[str], rule: str = "") -> str:
    members = "".join(f"(member{rule}={escape_filter_chars(dn)})" for dn in dns)
    return f"(&{_group_class(settings)}(|{members}))"


def _containing(connection: Connection, settings: Settings, dns: list[str], limit: int, rule: str = "") -> set[str]:
    """The groups under the group base that have one of ``dns`` as a member (at most ``limit`` + 1)."""
    found: set[str] = set()
    for start in range(0, len(dns), WALK_CHUNK):
        query = _members_filter(settings, dns[start : start + WALK_CHUNK], rule)
        found |= {entry["dn"] for entry in search(connection, settings.ldap_group_base, query, ["cn"], limit + 1)}
        if len(found) > limit:
            raise TooManyGroups(settings.ldap_max_groups)
    return found


def _walk(connection: Connection, settings: Settings, direct: set[str]) -> set[str]:
    found, level = set(direct), direct
    for _ in range(settings.ldap_nesting_depth):
        if not level:
            break
        level = _containing(connection, settings, sorted(level), settings.ldap_max_groups - len(found)) - found
        found |= level
    return found


def groups_of(connection: Connection, settings: Settings, person: Person) -> tuple[str, ...]:
    """``person``'s groups, sorted (TooManyGroups past the limit), read with ``connection`` (the service account)."""
    limit = settings.ldap_max_groups
    if not settings.ldap_group_base:
        found = set(person.member_of)
    elif settings.ldap_nested_groups and settings.ldap_active_directory:
        found = _containing(connection, settings, [person.dn], limit, rule=f":{IN_CHAIN}:")
    else:
        found = _containing(connection, settings, [person.dn], limit)
        if settings.ldap_nested_groups:
            found = _walk(connection, settings, found)
    if len(found) > limit:
        raise TooManyGroups(limit)
    return tuple(sorted(found))
