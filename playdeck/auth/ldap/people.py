"""A person's entry, found by their login name, or by the subject their Playdeck user is linked with (their
entry's stable id, ``entry_id``, or for an old link their DN). The name is what someone typed into the login form:
it goes into the filter escaped (RFC 4515), so ``*)(uid=*`` is a name nobody has, not a filter that matches
everyone."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ldap3 import Connection
from ldap3.utils.conv import escape_filter_chars

from playdeck.auth.ldap import entry_id
from playdeck.auth.ldap.connection import search
from playdeck.auth.sso.identity import ExternalIdentity
from playdeck.settings import Settings

log = logging.getLogger(__name__)

# Longer login names exist nowhere; a longer one is refused before it reaches the directory.
MAX_NAME = 256
ATTRIBUTES = ["mail", "displayName", "cn", "memberOf"]


@dataclass(frozen=True)
class Person:
    dn: str
    # What links them to their Playdeck user: the entry's stable id (``entry_id``), its DN if it has none.
    subject: str
    # The login name as the directory spells it (a login as "Alice" is alice's).
    name: str
    email: str
    display_name: str
    # The groups the entry says it is in (memberOf: Active Directory, OpenLDAP's memberof overlay).
    member_of: tuple[str, ...]

    def identity(self, source: str, groups: tuple[str, ...], linked_as: str) -> ExternalIdentity:
        """Who they are to the group mapping; ``linked_as``: the subject a link made earlier may still have (a
        DN, from before links followed the entry's id), re-keyed by the mapping when it is not their subject."""
        return ExternalIdentity(
            source=source, subject=self.subject, user_name=self.name, email=self.email,
            display_name=self.display_name, groups=groups,
            former_subjects=(linked_as,) if linked_as != self.subject else (),
        )  # fmt: skip


def user_filter(settings: Settings, name: str) -> str:
    return f"(&{settings.ldap_user_filter}({settings.ldap_user_attribute}={escape_filter_chars(name)}))"


def _attributes(settings: Settings) -> list[str]:
    # The id attributes by name: entryUUID is operational, sent only when asked for.
    return [settings.ldap_user_attribute, *ATTRIBUTES, *settings.ldap_id_attributes]


def _first(attributes: dict, name: str) -> str:
    value = attributes.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


def find(connection: Connection, settings: Settings, name: str) -> Person | None:
    """The one entry with that login name; None if there is none, or several (a name must say who)."""
    if not name or len(name) > MAX_NAME or any(ord(char) < 32 for char in name):
        return None
    found = search(connection, settings.ldap_user_base, user_filter(settings, name), _attributes(settings), limit=2)
    if len(found) != 1:
        if found:
            log.warning("%d directory entries have the login name %r: none may log in with it", len(found), name)
        return None
    return _person(settings, found[0], name)


def at(connection: Connection, settings: Settings, dn: str) -> Person | None:
    """The person whose entry is ``dn``, if it still exists and still matches the user filter (in Active
    Directory, e.g., not disabled)."""
    found = search(connection, dn, settings.ldap_user_filter, _attributes(settings), limit=1, entry_only=True)
    return _person(settings, found[0], "") if found else None


def linked(connection: Connection, settings: Settings, subject: str) -> Person | None:
    """The person a Playdeck user is linked to by ``subject``, wherever their entry is now under the user base
    (renamed, moved to another OU), if it still matches the user filter; a link keyed by a DN (``at``) finds
    the entry at that DN only."""
    keyed = entry_id.parse(subject)
    if keyed is None:
        return at(connection, settings, subject)
    query = entry_id.id_filter(*keyed)
    if query is None:
        return None
    found = search(connection, settings.ldap_user_base, f"(&{settings.ldap_user_filter}{query})",
                   _attributes(settings), limit=2)  # fmt: skip
    if len(found) != 1:
        if found:  # an id is unique: two entries with one are no one to sign in as
            log.warning("%d directory entries have the id %r: neither is linked", len(found), subject)
        return None
    return _person(settings, found[0], "")


def _person(settings: Settings, entry: dict, name: str) -> Person:
    values = entry.get("attributes", {})
    return Person(
        dn=entry["dn"],
        subject=entry_id.subject_of(settings, entry),
        name=_first(values, settings.ldap_user_attribute) or name,
        email=_first(values, "mail"),
        display_name=_first(values, "displayName") or _first(values, "cn"),
        member_of=tuple(str(group) for group in values.get("memberOf") or ()),
    )
