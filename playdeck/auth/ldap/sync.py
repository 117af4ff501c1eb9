"""Re-sync (``playdeck ldap sync``): every Playdeck user linked to a directory account gets, now, what their
groups give them (``mapping.resync``): a person removed from a group loses its role and grants at once, not at
their next login; one whose groups map to nothing any more, or whose entry is gone (or, in Active Directory,
disabled by the user filter), is deactivated (sessions end, tokens are revoked). People are found by their
entry's stable id (``entry_id``), so a renamed or moved entry is the same person, not one who left.

The directory is read first, with no transaction open; if it cannot be read completely nothing changes (a
directory that is down must not look like everyone having left). Then one transaction applies every change,
each audited by the mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck.auth.ldap import groups, people
from playdeck.auth.ldap.connection import close, service_connection
from playdeck.auth.ldap.login import SOURCE
from playdeck.auth.models import User
from playdeck.auth.sso import mapping, rules
from playdeck.auth.sso.identity import ExternalIdentity
from playdeck.auth.sso.models import ExternalAccount, GroupRule
from playdeck.db import session_scope
from playdeck.settings import Settings, get_settings


@dataclass(frozen=True)
class Outcome:
    user: str
    # "role developer (rules 1, 3)", "no matching group: deactivated ...", "not in the directory: ...", ...
    result: str


def _directory(settings: Settings, subjects: list[str]) -> dict[str, ExternalIdentity | None]:
    """Each linked subject's person and groups now, found by their entry's id wherever the entry is now (a link
    still keyed by a DN: at that DN, and re-keyed to the id by the mapping); None for an entry that is gone
    (or no longer a person by the filter)."""
    found: dict[str, ExternalIdentity | None] = {}
    linked = set(subjects)
    service = service_connection(settings)
    try:
        for subject in subjects:
            person = people.linked(service, settings, subject)
            # A DN-keyed link to a person another link already has by their id: that one is who they sign in as.
            if person is None or (person.subject != subject and person.subject in linked):
                found[subject] = None
                continue
            found[subject] = person.identity(SOURCE, groups.groups_of(service, settings, person), linked_as=subject)
    finally:
        close(service)
    return found


def _describe(access: rules.Access | None, gone: bool, was_active: bool, active: bool, dry_run: bool) -> str:
    if access is not None:
        rule_ids = ", ".join(map(str, access.rule_ids))
        return f"role {access.role.value} (rules {rule_ids})" + ("" if active or dry_run else "; inactive")
    why = "not in the directory" if gone else "no matching group"
    if not was_active:
        return f"{why}: inactive"
    if dry_run:
        return f"{why}: would be deactivated (sessions ended, tokens revoked)"
    return f"{why}: deactivated (sessions ended, tokens revoked)" if not active else f"{why}: kept (the last admin)"


def _one(session: Session, account: ExternalAccount, user: User, now: ExternalIdentity | None,
         mapping_rules: list[GroupRule], dry_run: bool) -> str:  # fmt: skip
    access = None if now is None else rules.resolve(mapping_rules, SOURCE, now.groups)
    was_active = user.active
    if not dry_run:
        # Gone from the directory: no groups, so the mapping withdraws the user.
        identity = now or ExternalIdentity(SOURCE, account.subject, user.name, account.email, account.display_name, ())
        try:
            mapping.resync(session, identity)
        except mapping.SignInRefused as exc:  # e.g. deactivated by an admin: the mapping does not undo that
            return f"left as it is: {exc.message}"
    return _describe(access, now is None, was_active, user.active, dry_run)


def sync_all(settings: Settings | None = None, *, dry_run: bool = False) -> list[Outcome]:
    """Re-apply the mapping to every directory-linked user, audited as the caller bound (``audit.acting_as``);
    DirectoryUnavailable (nothing changed) when the directory cannot be read."""
    settings = settings or get_settings()
    with session_scope() as session:
        subjects = list(session.scalars(select(ExternalAccount.subject).where(ExternalAccount.source == SOURCE)))
    found = _directory(settings, subjects)
    outcomes = []
    with session_scope() as session:
        linked = session.execute(
            select(ExternalAccount, User).join(User, User.id == ExternalAccount.user_id)
            .where(ExternalAccount.source == SOURCE).order_by(User.name)
        ).all()  # fmt: skip
        mapping_rules = rules.list_rules(session)
        for account, user in linked:
            if account.subject in found:  # else linked meanwhile: their login just applied the mapping
                outcomes.append(Outcome(user.name, _one(session, account, user, found[account.subject],
                                                        mapping_rules, dry_run)))  # fmt: skip
        if dry_run:
            session.rollback()
    return outcomes
