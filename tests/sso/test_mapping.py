"""Group mapping: a provider's groups decide a signed-in user's role and grants at every login; no
matching group is no access (and a known user is deactivated, their tokens revoked); a provider account
never takes over a local user of the same name; each change and refusal is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from playdeck import db
from playdeck.auth import credentials, users
from playdeck.auth.models import ProjectMember, User
from playdeck.auth.sso import rules
from playdeck.auth.sso.identity import ExternalIdentity
from playdeck.auth.sso.mapping import AccountConflict, BadIdentity, NoMatchingGroup, sign_in_external
from playdeck.dns import editors
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.models import AuditEvent, Project


@pytest.fixture(params=["embedded", "production"])
def services(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def identity(*groups: str, name: str = "dana", subject: str = "sub-dana", source: str = "oidc") -> ExternalIdentity:
    return ExternalIdentity(source, subject, name, f"{name}@example.test", name.title(), tuple(groups))


def sign_in(who: ExternalIdentity) -> dict:
    """As the login routes do: a refusal's audit is committed."""
    with db.session_scope() as session:
        try:
            user = sign_in_external(session, who)
        except NoMatchingGroup:
            session.commit()
            raise
        return users.describe_one(session, user) | {"manual": sorted(
            (m.project_id, m.source) for m in user.projects)}  # fmt: skip


def add_rule(**fields) -> int:
    with db.session_scope() as session:
        return rules.create_rule(session, fields).id


def add_project(name: str) -> None:
    with db.session_scope() as session:
        session.add(Project(name=name, description="", playbook="site.yml"))


def actions(target: str) -> list[str]:
    with db.session_scope() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.target == target)))


def test_groups_give_the_highest_role_and_every_grant_at_each_login(services):
    add_project("shop")
    add_project("web")
    add_rule(group="cn=deployers,ou=groups", role="developer", projects=["shop", "web"], zones=["Example.Test"])
    add_rule(group="sre", role="release_manager", source="oidc")
    add_rule(group="sre", role="admin", source="ldap")  # another provider's group of that name
    shown = sign_in(identity("CN=Deployers,OU=Groups", "sre", "unrelated"))
    assert (shown["role"], shown["projects"], shown["zones"]) == ("release_manager", ["shop", "web"], ["example.test."])
    assert "sso.login" in actions("dana") and "user.create" in actions("dana")
    # Removed from sre and deployers' web: the role and grant go at the next login.
    with db.session_scope() as session:
        rule = rules.list_rules(session)[0]
        rules.update_rule(session, rule.id, {"projects": ["shop"]})
    shown = sign_in(identity("cn=deployers,ou=groups"))
    assert (shown["role"], shown["projects"], shown["zones"]) == ("developer", ["shop"], ["example.test."])
    assert {"user.role", "user.revoke_project"} <= set(actions("dana"))


def test_no_matching_group_refuses_and_deactivates_a_known_user_and_revokes_tokens(services):
    add_rule(group="deployers", role="developer")
    with pytest.raises(NoMatchingGroup, match="none of your groups gives access"):
        sign_in(identity("visitors"))
    with db.session_scope() as session:
        assert session.scalar(select(User).where(User.name == "dana")) is None  # nothing created
    assert actions("dana") == ["sso.refused"]
    sign_in(identity("deployers"))
    with db.session_scope() as session:
        token = credentials.create_token(session, "dana").token
    with pytest.raises(NoMatchingGroup):
        sign_in(identity())  # a missing groups claim: no groups
    with db.session_scope() as session:
        assert credentials.token_principal(session, token) is None
        assert session.scalar(select(User.active).where(User.name == "dana")) is False
    assert sign_in(identity("deployers"))["active"] is True  # back in the group: active again


def test_manual_grants_are_kept_or_dropped_by_the_rule(services):
    add_project("shop")
    add_project("ops")
    rule_id = add_rule(group="deployers", role="developer", projects=["shop"])
    sign_in(identity("deployers"))
    with db.session_scope() as session:
        user = users.get_user(session, "dana")
        users.grant_project(session, user, "ops")
        editors.grant_zone(session, user, "manual.test")
    shown = sign_in(identity("deployers"))
    assert (shown["projects"], shown["zones"]) == (["ops", "shop"], ["manual.test."])
    with db.session_scope() as session:
        rules.update_rule(session, rule_id, {"keep_manual_grants": False})
    shown = sign_in(identity("deployers"))
    assert (shown["projects"], shown["zones"]) == (["shop"], [])
    with db.session_scope() as session:
        sources = set(session.scalars(select(ProjectMember.source)))
    assert sources == {"sso"}


def test_a_provider_account_never_takes_over_a_local_user(services):
    add_rule(group="everyone", role="admin")
    with pytest.raises(AccountConflict, match="exists and is not linked"):
        with db.session_scope() as session:
            sign_in_external(session, identity("everyone", name="admin"))
    with pytest.raises(BadIdentity, match="more than 1000 groups"):
        with db.session_scope() as session:
            sign_in_external(session, identity(*[f"g{i}" for i in range(1001)]))


def test_rules_are_checked_and_audited(services):
    with db.session_scope() as session:
        with pytest.raises(ValidationError, match="role"):
            rules.create_rule(session, {"group": "x", "role": "overlord"})
        with pytest.raises(NotFound, match="project 'nope'"):
            rules.create_rule(session, {"group": "x", "role": "viewer", "projects": ["nope"]})
        with pytest.raises(ValidationError, match="source"):
            rules.create_rule(session, {"group": "x", "role": "viewer", "source": "kerberos"})
        rule = rules.create_rule(session, {"group": "x", "role": "viewer"})
        with pytest.raises(Conflict, match="already maps"):
            rules.create_rule(session, {"group": "X", "role": "admin"})
        rules.delete_rule(session, rule.id)
    assert actions(str(rule.id)) == ["sso.rule_create", "sso.rule_delete"]


def test_the_admin_page_shows_grants_by_hand_apart_from_the_mappings(embedded):
    from tests.conftest import web_client

    add_rule(group="deployers", role="developer", projects=["sampleapp"])
    sign_in(identity("deployers"))
    with db.session_scope() as session:
        editors.grant_zone(session, users.get_user(session, "dana"), "manual.test")
    admin = web_client()
    shown = admin.get("/api/v1/users/dana").json
    assert shown["sso"]["groups"] == ["deployers"] and shown["sso"]["source"] == "oidc"
    assert shown["granted_by_sso"] == {"projects": ["sampleapp"], "zones": []}
    page = admin.get("/admin/users/dana").text
    assert "by the group mapping" in page and "by hand" in page and "Signs in with single sign-on" in page
    assert admin.get("/api/v1/users").json["users"][1]["last_login_at"] is not None


def test_a_resync_applies_the_groups_at_once_to_sessions_and_tokens(services):
    from playdeck.auth.sso.mapping import resync

    add_rule(group="sre", role="release_manager")
    add_rule(group="deployers", role="developer")
    assert resync_of(resync, identity("sre")) is None  # never signed in: nothing to re-sync
    sign_in(identity("sre"))
    with db.session_scope() as session:
        token = credentials.create_token(session, "dana").token
    resync_of(resync, identity("deployers"))
    with db.session_scope() as session:
        assert credentials.token_principal(session, token).role.value == "developer"  # the token's role, at once
    resync_of(resync, identity("visitors"))
    with db.session_scope() as session:
        assert credentials.token_principal(session, token) is None
    assert "sso.resync" in actions("dana")


def resync_of(resync, who: ExternalIdentity):
    with db.session_scope() as session:
        user = resync(session, who)
        return None if user is None else user.name
