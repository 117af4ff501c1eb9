"""A person's entry, found by their login name. The name is what someone typed into the login form: it goes
into the filter escaped (RFC 4515), so ``*)(uid=*`` is a name nobody has, not a filter that matches everyone."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ldap3 import Connection
from ldap3.utils.conv import escape_filter_chars

from playdeck.auth.ldap.connection import search
from playdeck.settings import Settings

log = logging.getLogger(__name__)

# Longer login names exist nowhere; a longer one is refused before it reaches the directory.
MAX_NAME = 256
ATTRIBUTES = ["mail", "displayName", "cn", "memberOf"]


@dataclass(frozen=True)
class Person:
    dn: str
    # The login name as the directory spells it (a login as "Alice" is alice's).
    name: str
    email: str
    display_name: str
    # The groups the entry says it is in (memberOf: Active Directory, OpenLDAP's memberof overlay).
    member_of: tuple[str, ...]


def user_filter(settings: Settings, name: str) -> str:
    return f"(&{settings.ldap_user_filter}({settings.ldap_user_attribute}={escape_filter_chars(name)}))"


def _first(attributes: dict, name: str) -> str:
    value = attributes.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


def find(connection: Connection, settings: Settings, name: str) -> Person | None:
    """The one entry with that login name; None if there is none, or several (a name must say who)."""
    if not name or len(name) > MAX_NAME or any(ord(char) < 32 for char in name):
        return None
    attributes = [settings.ldap_user_attribute, *ATTRIBUTES]
    found = search(connection, settings.ldap_user_base, user_filter(settings, name), attributes, limit=2)
    if len(found) != 1:
        if found:
            log.warning("%d directory entries have the login name %r: none may log in with it", len(found), name)
        return None
    return _person(settings, found[0], name)


def at(connection: Connection, settings: Settings, dn: str) -> Person | None:
    """The person whose entry is ``dn``, if it still exists and still matches the user filter (in Active
    Directory, e.g., not disabled)."""
    attributes = [settings.ldap_user_attribute, *ATTRIBUTES]
    found = search(connection, dn, settings.ldap_user_filter, attributes, limit=1, entry_only=True)
    return _person(settings, found[0], "") if found else None


def _person(settings: Settings, entry: dict, name: str) -> Person:
    values = entry.get("attributes", {})
    return Person(
        dn=entry["dn"],
        name=_first(values, settings.ldap_user_attribute) or name,
        email=_first(values, "mail"),
        display_name=_first(values, "displayName") or _first(values, "cn"),
        member_of=tuple(str(group) for group in values.get("memberOf") or ()),
    )
