"""The stable id of a person's directory entry: what links them to their Playdeck user (the account's subject).

A DN changes when the entry is renamed or moved to another OU (modrdn: routine in Active Directory); the entry's
own id does not: OpenLDAP's operational ``entryUUID`` (RFC 4530), Active Directory's ``objectGUID`` (16 bytes,
written as the canonical GUID string, the way AD's tools show it). ``ldap_id_attributes`` lists the attributes
tried, the first the entry has wins; an entry with none of them is linked by its DN, as before.

A subject is ``attribute:value`` (``entryuuid:4f7c…``, the attribute lowercased): an attribute name holds no
``=`` and a DN always starts with ``attribute=``, so the two never look alike, and a link keyed by a DN (made by
an earlier version) is told from one keyed by an id without a column of its own.
"""

from __future__ import annotations

import uuid

from ldap3.utils.conv import escape_bytes, escape_filter_chars

from playdeck.settings import LDAP_ATTRIBUTE_NAME, Settings

# Active Directory's binary GUID; any other id attribute is text.
GUID = "objectguid"
# What the subject column holds (mapping.check_identity refuses longer ones): a longer id falls back to the DN.
MAX_SUBJECT = 512


def _value(name: str, raw: bytes) -> str | None:
    if name == GUID:
        # Active Directory stores the GUID's first three fields little-endian.
        return str(uuid.UUID(bytes_le=raw)) if len(raw) == 16 else None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # entryUUID compares without regard to case: one spelling per id.
    return text.lower() if name == "entryuuid" else text


def subject_of(settings: Settings, entry: dict) -> str:
    """``entry``'s subject (``entry``: a search result with ``raw_attributes``): its first id attribute, else
    its DN."""
    raw = {name.lower(): values for name, values in (entry.get("raw_attributes") or {}).items()}
    for attribute in settings.ldap_id_attributes:
        name = attribute.lower()
        values = raw.get(name) or []
        value = _value(name, values[0]) if len(values) == 1 else None
        if value and len(name) + 1 + len(value) <= MAX_SUBJECT:
            return f"{name}:{value}"
    return entry["dn"]


def parse(subject: str) -> tuple[str, str] | None:
    """(attribute, value) of a subject keyed by an id; None for one keyed by a DN."""
    name, colon, value = subject.partition(":")
    if not colon or not value or not LDAP_ATTRIBUTE_NAME.fullmatch(name):
        return None
    return name, value


def id_filter(name: str, value: str) -> str | None:
    """The equality filter that finds the entry with this id, its value escaped (RFC 4515: data, never filter
    syntax); None for a value that cannot be one (a malformed GUID)."""
    if name == GUID:
        try:
            raw = uuid.UUID(value).bytes_le
        except ValueError:
            return None
        return f"({name}={escape_bytes(raw)})"
    return f"({name}={escape_filter_chars(value)})"
