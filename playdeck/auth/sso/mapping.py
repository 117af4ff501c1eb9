"""Sign a provider's identity in: the user is created on first login, and at every login the group rules
(``rules``) decide their role and their project and zone grants, so a user removed from a group loses what
it gave at their next login (``apply_access``, which an LDAP re-sync calls too).

A provider account is linked to its Playdeck user by the provider's stable id (``ExternalAccount``),
never by name: an account that takes the name of a local user is refused, not merged into them. A link keyed
by one of the identity's former subjects (an LDAP DN, from before links followed the entry's id) is re-keyed
to its subject at the login or re-sync that finds it (``_rekey``).
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from playdeck import audit
from playdeck.auth.models import ProjectMember, User, ZoneEditor
from playdeck.auth.sso import rules
from playdeck.auth.sso.identity import ExternalIdentity
from playdeck.auth.sso.models import ExternalAccount
from playdeck.auth.users import NAME_RE, SSO_GRANT, create_user, set_active, set_role
from playdeck.errors import Conflict, Forbidden
from playdeck.models import Project, utcnow

log = logging.getLogger(__name__)

# A login that claims more groups than this is refused: no directory gives a person that many, and
# matching them costs memory and time an attacker could choose.
MAX_GROUPS = 1000
MAX_GROUP_LENGTH = 1024
# The subject and the former ones an identity may still be linked by.
MAX_SUBJECTS = 4


class SignInRefused(Forbidden):
    """A provider vouched for the person, but Playdeck gives them no access; ``reason`` for the audit log."""

    reason = "refused"


class NoMatchingGroup(SignInRefused):
    reason = "no_matching_group"


class AccountConflict(SignInRefused):
    reason = "name_taken"


class BadIdentity(SignInRefused):
    reason = "bad_identity"


class AccountDisabled(SignInRefused):
    reason = "deactivated"


def check_identity(identity: ExternalIdentity) -> None:
    """What a provider said, bounded before anything is matched or stored."""
    if not NAME_RE.fullmatch(identity.user_name):
        raise BadIdentity(
            f"the provider's user name {identity.user_name[:100]!r} is not a valid Playdeck user name "
            "(1-100 letters, digits and . _ @ -)"
        )
    subjects = (identity.subject, *identity.former_subjects)
    if len(subjects) > MAX_SUBJECTS or not all(subjects) or any(len(subject) > 512 for subject in subjects):
        raise BadIdentity("the provider gave no usable subject (stable id) for this account")
    if len(identity.groups) > MAX_GROUPS or any(len(group) > MAX_GROUP_LENGTH for group in identity.groups):
        raise BadIdentity(f"the provider listed more than {MAX_GROUPS} groups (or one too long) for this account")


def _audit_refusal(session: Session, identity: ExternalIdentity, error: SignInRefused) -> None:
    details = {"source": identity.source, "subject": identity.subject[:200], "reason": error.reason,
               "groups": list(identity.groups[:50]), "message": error.message}  # fmt: skip
    with audit.acting_as(identity.user_name[:100], audit.current_actor().address):
        audit.record(session, "sso.refused", "user", identity.user_name[:100], details)
    log.warning("single sign-on refused for %r (%s): %s", identity.user_name[:100], identity.source, error.reason)


def _account(session: Session, identity: ExternalIdentity) -> ExternalAccount | None:
    query = select(ExternalAccount).where(
        ExternalAccount.source == identity.source, ExternalAccount.subject == identity.subject
    )
    return session.scalar(query)


def _rekey(session: Session, identity: ExternalIdentity) -> str | None:
    """A link keyed by one of ``identity``'s former subjects now keyed by its subject (unless a link has that
    subject already: it is the one to sign in as); the former subject, or None."""
    if not identity.former_subjects or _account(session, identity) is not None:
        return None
    account = session.scalar(
        select(ExternalAccount).where(ExternalAccount.source == identity.source,
                                      ExternalAccount.subject.in_(identity.former_subjects))
        .order_by(ExternalAccount.id).limit(1)
    )  # fmt: skip
    if account is None:
        return None
    former, account.subject = account.subject, identity.subject
    log.info("%s link of user %s re-keyed from %r to %r", identity.source, account.user_id, former, identity.subject)
    return former


def _rekeyed(former: str | None) -> dict[str, str]:
    """For the audit record of the login or re-sync that re-keyed the link."""
    return {} if former is None else {"rekeyed_from": former[:200]}


def _withdraw(session: Session, account: ExternalAccount | None) -> None:
    """A known user none of whose groups matches any more: deactivated, so their sessions end and their API
    tokens are revoked now (``users.set_active``), not at some later login."""
    if account is None:
        return
    user = session.get(User, account.user_id)
    if user is None or not user.active:
        return
    try:
        set_active(session, user, False)
    except Conflict as exc:  # the last active admin stays one; the login is refused all the same
        log.warning("single sign-on: %s", exc.message)
        return
    account.deactivated_by_mapping = True


def sign_in_external(session: Session, identity: ExternalIdentity) -> User:
    """The Playdeck user ``identity`` signs in as, with the role and grants of its groups now. Refusals
    (``SignInRefused``) are audited in the caller's transaction: commit it even though this raises."""
    account = None
    try:
        check_identity(identity)
        former = _rekey(session, identity)
        access = rules.resolve(rules.list_rules(session), identity.source, identity.groups)
        account = _account(session, identity)
        if access is None:
            _withdraw(session, account)
            raise NoMatchingGroup(
                f"you are signed in as {identity.user_name}, but none of your groups gives access to Playdeck: "
                "ask an administrator to add you to a group that does"
            )
        user = _user(session, identity, account, access)
        account = _account(session, identity)
        assert account is not None  # linked by _user
        account.last_login_at = utcnow()
    except SignInRefused as error:
        _audit_refusal(session, identity, error)
        raise
    apply_access(session, user, access)
    with audit.acting_as(user.name, audit.current_actor().address):
        audit.record(session, "sso.login", "user", user.name,
                     {"source": identity.source, "role": user.role, "rules": list(access.rule_ids)}
                     | _rekeyed(former))  # fmt: skip
    return user


def resync(session: Session, identity: ExternalIdentity) -> User | None:
    """An admin's re-sync (LDAP can read anyone's groups): the linked user's role and grants follow their groups
    now, without a login; one whose groups no longer match is deactivated at once (sessions end, API tokens
    revoked). None: nobody has signed in with this identity yet."""
    check_identity(identity)
    former = _rekey(session, identity)
    account = _account(session, identity)
    if account is None:
        return None
    access = rules.resolve(rules.list_rules(session), identity.source, identity.groups)
    if access is None:
        _withdraw(session, account)
        user = session.get(User, account.user_id)
    else:
        user = _user(session, identity, account, access)
        apply_access(session, user, access)
    assert user is not None  # the account's foreign key cascades
    audit.record(session, "sso.resync", "user", user.name,
                 {"source": identity.source, "role": user.role if access else None, "active": user.active}
                 | _rekeyed(former))  # fmt: skip
    return user


def _user(session: Session, identity: ExternalIdentity, account: ExternalAccount | None, access: rules.Access) -> User:
    """The linked user (activated again if the mapping had deactivated them), or a new one."""
    if account is None:
        if session.scalar(select(User.id).where(User.name == identity.user_name)) is not None:
            raise AccountConflict(
                f"a Playdeck user named {identity.user_name} exists and is not linked to this {identity.source} "
                "account: an administrator must rename or remove it first"
            )
        user = create_user(session, identity.user_name, access.role, None)
        account = ExternalAccount(user_id=user.id, source=identity.source, subject=identity.subject)
        session.add(account)
    user = session.scalar(
        select(User).options(selectinload(User.projects), selectinload(User.zones)).where(User.id == account.user_id)
    )
    assert user is not None  # the account's foreign key cascades
    if not user.active:
        if not account.deactivated_by_mapping:
            raise AccountDisabled(f"the Playdeck user {user.name} is deactivated: ask an administrator")
        set_active(session, user, True)
        account.deactivated_by_mapping = False
    account.email, account.display_name = identity.email[:255], identity.display_name[:255]
    account.groups_json = json.dumps(list(identity.groups))
    return user


def apply_access(session: Session, user: User, access: rules.Access) -> None:
    """Give ``user`` the role and exactly the mapped grants of ``access``; hand-given grants stay unless a
    matching rule says otherwise. Each change is audited (as the users module does for an admin's)."""
    set_role(session, user, access.role)
    held = {member.project_id for member in user.projects}
    names = dict(session.execute(select(Project.id, Project.name).where(
        Project.name.in_(sorted(access.projects)) | Project.id.in_(held))).all())  # fmt: skip
    wanted = {project_id for project_id, name in names.items() if name in access.projects}
    keep = access.keep_manual_grants
    _sync(session, user, user.projects, wanted, keep, "project", names)
    _sync(session, user, user.zones, set(access.zones), keep, "zone", {})


def _new_grant(kind: str, key: object) -> ProjectMember | ZoneEditor:
    if kind == "project":
        return ProjectMember(project_id=key, source=SSO_GRANT)
    return ZoneEditor(zone=key, source=SSO_GRANT)


def _sync(session: Session, user: User, grants: list, wanted: set, keep_manual: bool, kind: str,
          names: dict[int, str]) -> None:  # fmt: skip
    """Make ``grants`` (a user's project or zone grants) hold ``wanted`` as mapped grants: mapped ones no
    longer wanted go; hand-given ones stay, unless ``keep_manual`` is off (then the mapping alone decides)."""
    held = {grant.project_id if kind == "project" else grant.zone: grant for grant in grants}
    for key, grant in held.items():
        if key in wanted:
            if grant.source != SSO_GRANT and not keep_manual:
                grant.source = SSO_GRANT  # now the mapping's: it goes when the group does
            continue
        if grant.source == SSO_GRANT or not keep_manual:
            grants.remove(grant)
            audit.record(session, f"user.revoke_{kind}", "user", user.name,
                         {kind: names.get(key, key), "by": "sso", "manual": grant.source != SSO_GRANT})  # fmt: skip
    for key in sorted(wanted - held.keys()):
        grants.append(_new_grant(kind, key))
        audit.record(session, f"user.grant_{kind}", "user", user.name, {kind: names.get(key, key), "by": "sso"})
