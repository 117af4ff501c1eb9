"""Re-sync (``playdeck ldap sync``): every Playdeck user linked to a directory account gets, now, what their
groups give them (``mapping.apply_access``): a person removed from a group loses its role and grants at once, not
at their next login; one whose groups map to nothing any more, or whose entry is gone (or, in Active Directory,
disabled by the user filter), is deactivated (``mapping.withdraw``: sessions end, tokens are revoked).

The directory is read first, with no transaction open; if it cannot be read completely nothing changes (a
directory that is down must not look like everyone having left). Then one transaction applies every change,
each audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck import audit
from playdeck.auth.ldap import groups, people
from playdeck.auth.ldap.connection import close, service_connection
from playdeck.auth.ldap.login import SOURCE
from playdeck.auth.models import User
from playdeck.auth.sso import mapping, rules
from playdeck.auth.sso.models import ExternalAccount
from playdeck.db import session_scope
from playdeck.settings import Settings, get_settings


@dataclass(frozen=True)
class Outcome:
    user: str
    # "role developer (rules 1, 3)", "no matching group: deactivated", "not in the directory: deactivated", ...
    result: str


def _directory_groups(settings: Settings, subjects: list[str]) -> dict[str, tuple[str, ...] | None]:
    """Each DN's groups now; None for an entry that is gone (or no longer a person by the user filter)."""
    found: dict[str, tuple[str, ...] | None] = {}
    service = service_connection(settings)
    try:
        for dn in subjects:
            person = people.at(service, settings, dn)
            found[dn] = None if person is None else groups.groups_of(service, settings, person)
    finally:
        close(service)
    return found


def _apply(session: Session, account: ExternalAccount, user: User, access: rules.Access | None, gone: bool,
           dry_run: bool) -> str:  # fmt: skip
    if access is None:
        why = "not in the directory" if gone else "no matching group"
        if not user.active:
            return f"{why}: inactive"
        if not dry_run:
            mapping.withdraw(session, account)
        return f"{why}: {'would be ' if dry_run else ''}deactivated (sessions ended, tokens revoked)"
    if not dry_run:
        mapping.apply_access(session, user, access)
    state = "" if user.active else "; inactive until their next login"
    return f"role {access.role.value} (rules {', '.join(map(str, access.rule_ids))}){state}"


def sync_all(settings: Settings | None = None, *, dry_run: bool = False) -> list[Outcome]:
    """Re-apply the mapping to every directory-linked user, audited as the caller bound (``audit.acting_as``);
    DirectoryUnavailable (nothing changed) when the directory cannot be read."""
    settings = settings or get_settings()
    with session_scope() as session:
        subjects = list(session.scalars(select(ExternalAccount.subject).where(ExternalAccount.source == SOURCE)))
    found = _directory_groups(settings, subjects)
    outcomes = []
    with session_scope() as session:
        linked = session.execute(
            select(ExternalAccount, User).join(User, User.id == ExternalAccount.user_id)
            .where(ExternalAccount.source == SOURCE).order_by(User.name)
        ).all()  # fmt: skip
        mapping_rules = rules.list_rules(session)
        for account, user in linked:
            if account.subject not in found:
                continue  # linked meanwhile: their login just applied the mapping
            now = found[account.subject]
            access = None if now is None else rules.resolve(mapping_rules, SOURCE, now)
            result = _apply(session, account, user, access, now is None, dry_run)
            outcomes.append(Outcome(user.name, result))
            if not dry_run:
                audit.record(session, "ldap.sync", "user", user.name, {"result": result})
        if dry_run:
            session.rollback()
    return outcomes
