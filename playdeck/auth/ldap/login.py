"""``authenticate(name, password)``: who the directory says this is, or why not.

The service account finds the person's entry by the name (people), the person's own password binds as that
entry (connection: the directory checks it, Playdeck never sees a hash), the service account reads their
groups (groups). An empty password is refused before anything is sent; an unknown name and a wrong password
get the same answer, so the login form does not tell which names exist.
"""

from __future__ import annotations

from playdeck.auth.ldap import groups, people
from playdeck.auth.ldap.connection import REFUSED, WrongPassword, bind, close, service_connection
from playdeck.auth.sso.identity import ExternalIdentity
from playdeck.errors import DirectoryUnavailable
from playdeck.settings import Settings, get_settings

SOURCE = "ldap"


def configured(settings: Settings | None = None) -> bool:
    return bool((settings or get_settings()).ldap_urls)


def _identity(settings: Settings, name: str, password: str | None) -> ExternalIdentity | None:
    """The person called ``name`` with their groups, None if there is none; with ``password``, only if it is
    theirs (WrongPassword otherwise)."""
    if not configured(settings):
        raise DirectoryUnavailable("logging in with the company directory (LDAP) is not configured")
    service = service_connection(settings)
    try:
        person = people.find(service, settings, name)
        if person is None:
            return None
        if password is not None:
            close(bind(settings, person.dn, password))
        found = groups.groups_of(service, settings, person)
    finally:
        close(service)
    # Links were keyed by the DN before they followed the entry's id.
    return person.identity(SOURCE, found, linked_as=person.dn)


def authenticate(name: str, password: str, settings: Settings | None = None) -> ExternalIdentity:
    """WrongPassword (an Unauthenticated) for a wrong name or password, DirectoryUnavailable when the directory
    cannot be used, TooManyGroups (a Forbidden) for a person in too many groups."""
    if not password:
        raise WrongPassword(REFUSED)
    identity = _identity(settings or get_settings(), name, password)
    if identity is None:
        raise WrongPassword(REFUSED)
    return identity


def look_up(name: str, settings: Settings | None = None) -> ExternalIdentity | None:
    """Who ``name`` is in the directory and their groups, without their password (``playdeck ldap check``)."""
    return _identity(settings or get_settings(), name, None)
