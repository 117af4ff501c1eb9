"""Who may call what: every route declares a rule, the role matrix over every route and method, and the
object-level rules (project membership, protected environments, own runs, granted zones)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from playdeck.auth import credentials, users
from playdeck.auth.permissions import LEAST_ROLE, RANK, Action, Role
from playdeck.db import session_scope
from playdeck.dns.history import list_changes
from playdeck.runs.requests import RunRequest
from tests.conftest import authorize, queue_run
from tests.webui.webui_testing import RUN
from webui import access, dns_queries, errors

ZONE_A, ZONE_B = "example.test.", "other.test."
RECORD = {"name": "www", "type": "A", "value": "192.0.2.10"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
# Destructive requests go last, so the routes walked before them still find their objects.
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}


def new_zone(name: str) -> dict[str, Any]:
    return {"name": name, "mname": "ns1", "rname": f"hostmaster@{name}", "glue": {"ns1": ["192.0.2.1"]}}


def client_as(app: Flask, name: str, role: str, **grants: Any) -> FlaskClient:
    client = app.test_client()
    authorize(client, name, role, **grants)
    return client


def setup_objects(requested_by: str) -> dict[str, Any]:
    """A zone with a record, a queued run of ``requested_by`` and another user's API token: the values of the
    routes' arguments."""
    zone = dns_queries.create_zone(new_zone(ZONE_A), "setup").data["name"]
    record = dns_queries.create_record(zone, {"name": "www", "rtype": "A", "value": "192.0.2.10"}, "setup").data
    run = queue_run(RunRequest(project="sampleapp", environment="staging", version="1.0", requested_by=requested_by))
    with session_scope() as session:  # a token of someone else: only an admin may revoke it
        token_id = credentials.create_token(session, users.create_user(session, "bystander", "viewer", None).name).id
    return {
        "run_id": run.id,
        "name": "sampleapp",
        "zone": zone,
        "record_id": record["id"],
        "user": requested_by,
        "environment": "staging",
        "token_id": token_id,
    }


def routes(app: Flask) -> list[tuple[Rule, str]]:
    found = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != access.STATIC_ENDPOINT
        for method in sorted((rule.methods or set()) - IGNORED_METHODS)
    ]
    return sorted(found, key=lambda route: METHOD_ORDER[route[1]])


def call(app: Flask, client: FlaskClient, rule: Rule, method: str, sample: dict[str, Any]) -> tuple[str, int, str]:
    """The status of a bodiless request; an argument without a sample value gets one that names nothing."""
    with app.test_request_context():
        url = url_for(rule.endpoint, **{name: sample.get(name, 1) for name in rule.arguments})
    # Unbuffered and closed at once: a run's event stream would otherwise never end.
    response = client.open(url, method=method, buffered=False)
    status, location = response.status_code, response.headers.get("Location", "")
    response.close()
    return url, status, location


def test_every_route_declares_a_rule(app: Flask) -> None:
    assert access.unruled_routes(app) == []
    assert all(access.rule_of(app, rule.endpoint) is not None for rule, _ in routes(app))


def test_an_app_with_a_route_without_a_rule_does_not_start() -> None:
    toy = Flask("toy")
    toy.add_url_rule("/open", "open", lambda: "anyone?")
    with pytest.raises(RuntimeError, match="open"):
        access.register(toy)


# The OpenID Connect login's routes: public, but they answer 200 only in a login under way.
SSO_LOGIN = {"sso_pages.begin_login", "sso_pages.callback"}


def test_without_credentials_only_public_routes_answer(app: Flask) -> None:
    client = app.test_client()
    sample = setup_objects("someone")
    for rule, method in routes(app):
        url, status, location = call(app, client, rule, method, sample)
        if access.rule_of(app, rule.endpoint) == access.PUBLIC:
            assert status != 403, (method, url)
            if rule.endpoint in SSO_LOGIN:
                # Not configured (404), or a callback with no login under way (401): a page saying so.
                assert status in (401, 404), (method, url, status)
            elif method == "GET":
                assert status == 200, (method, url)
        elif url.startswith(errors.API_PREFIX) or method != "GET":
            assert status == 401, (method, url, status)
        else:
            assert status == 302 and location.startswith("/login?next="), (method, url, status, location)


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(app: Flask, role: Role) -> None:
    """403 exactly when the route's action needs a higher role. Every user has every grant, so what
    decides is the role alone (object-level rules are tested below)."""
    client = client_as(app, f"user-{role.value}", role.value, projects=("sampleapp",), zones=(ZONE_A,))
    # The run is the caller's own: a developer may cancel it.
    sample = setup_objects(f"user-{role.value}")
    for rule, method in routes(app):
        action = access.rule_of(app, rule.endpoint)
        url, status, _ = call(app, client, rule, method, sample)
        assert status < 500, (method, url, status)
        if action == access.PUBLIC:
            continue
        if RANK[LEAST_ROLE[Action(action)]] > RANK[role]:
            assert status == 403, (role, action, method, url, status)
        else:
            assert status not in (401, 403), (role, action, method, url, status)


# --- deploy: membership and protected environments -----------------------------------------------


def deploy(client: FlaskClient, environment: str) -> Any:
    return client.post("/api/v1/runs", json={**RUN, "environment": environment})


def test_a_developer_deploys_only_projects_they_belong_to(app: Flask) -> None:
    outsider = client_as(app, "olga", "developer")
    refused = deploy(outsider, "staging")
    assert refused.status_code == 403
    assert "not a member of project sampleapp" in refused.json["error"]

    member = client_as(app, "dev", "developer", projects=("sampleapp",))
    accepted = deploy(member, "staging")
    assert accepted.status_code == 201, accepted.json
    assert accepted.json["requested_by"] == "dev"


def test_a_developer_never_deploys_to_a_protected_environment(app: Flask) -> None:
    member = client_as(app, "dev", "developer", projects=("sampleapp",))
    refused = deploy(member, "production")
    assert refused.status_code == 403
    assert "protected" in refused.json["error"]


def test_a_release_manager_deploys_to_protected_environments(app: Flask) -> None:
    manager = client_as(app, "rita", "release_manager")
    accepted = deploy(manager, "production")
    assert accepted.status_code == 201, accepted.json
    assert accepted.json["requested_by"] == "rita"


def test_the_deploy_page_offers_only_allowed_environments_and_refuses_the_rest(app: Flask) -> None:
    member = client_as(app, "dev", "developer", projects=("sampleapp",))
    page = member.get("/projects/sampleapp/deploy").get_data(as_text=True)
    assert 'value="staging"' in page and 'value="production"' not in page
    refused = member.post("/projects/sampleapp/deploy", data={"environment": "production", "version": "1.0"})
    assert refused.status_code == 403

    outsider = client_as(app, "olga", "developer")
    assert 'id="deploy-refused"' in outsider.get("/projects/sampleapp/deploy").get_data(as_text=True)


def test_nobody_names_another_requester(app: Flask) -> None:
    admin = client_as(app, "admin", "admin")
    refused = admin.post("/api/v1/runs", json={**RUN, "requested_by": "alice"})
    assert refused.status_code == 400
    assert refused.json["field"] == "requested_by"
    assert "set from your login" in refused.json["error"]
    page = admin.post("/projects/sampleapp/deploy", data={"environment": "staging", "requested_by": "alice"})
    assert page.status_code == 400


# --- cancel, force cancel, relaunch --------------------------------------------------------------


def test_a_developer_cancels_only_their_own_runs(app: Flask) -> None:
    dev = client_as(app, "dev", "developer", projects=("sampleapp",))
    manager = client_as(app, "rita", "release_manager")
    own = deploy(dev, "staging").json["id"]
    others = deploy(manager, "staging").json["id"]

    refused = dev.post(f"/api/v1/runs/{others}/cancel")
    assert refused.status_code == 403
    assert "only their own runs" in refused.json["error"]
    canceled = dev.post(f"/api/v1/runs/{own}/cancel")
    assert canceled.status_code == 202
    assert canceled.json["canceled_by"] == "dev"


def test_force_cancel_and_relaunch_need_a_release_manager(app: Flask) -> None:
    dev = client_as(app, "dev", "developer", projects=("sampleapp",))
    manager = client_as(app, "rita", "release_manager")
    own = deploy(dev, "staging").json["id"]

    assert dev.post(f"/api/v1/runs/{own}/cancel?force=true").status_code == 403
    forced = manager.post(f"/api/v1/runs/{own}/cancel?force=true")
    assert forced.status_code == 202
    assert forced.json["canceled_by"] == "rita"

    assert dev.post(f"/api/v1/runs/{own}/relaunch").status_code == 403
    relaunched = manager.post(f"/api/v1/runs/{own}/relaunch")
    assert relaunched.status_code == 201
    assert relaunched.json["requested_by"] == "rita"


def test_a_page_hides_what_the_user_may_not_do(app: Flask) -> None:
    dev = client_as(app, "dev", "developer", projects=("sampleapp",))
    manager = client_as(app, "rita", "release_manager")
    others = deploy(manager, "staging").json["id"]
    assert 'id="cancel-form"' not in dev.get(f"/runs/{others}").get_data(as_text=True)
    assert 'id="cancel-form"' in manager.get(f"/runs/{others}").get_data(as_text=True)


# --- DNS: granted zones, zone management ---------------------------------------------------------


@pytest.fixture
def two_zones(app: Flask) -> FlaskClient:
    admin = client_as(app, "admin", "admin")
    for name in (ZONE_A, ZONE_B):
        assert admin.post("/api/v1/zones", json=new_zone(name)).status_code == 201
    return admin


def test_a_zone_grant_lets_any_role_edit_that_zone_only(app: Flask, two_zones: FlaskClient) -> None:
    vera = client_as(app, "vera", "viewer", zones=("Example.Test",))
    created = vera.post(f"/api/v1/zones/{ZONE_A}/records", json=RECORD)
    assert created.status_code == 201, created.json
    refused = vera.post(f"/api/v1/zones/{ZONE_B}/records", json=RECORD)
    assert refused.status_code == 403
    assert "may not edit the records of zone other.test." in refused.json["error"]
    # Refused before the zone is read: an unknown zone is no different.
    assert vera.post("/api/v1/zones/nowhere.test/records", json=RECORD).status_code == 403
    with session_scope() as session:
        assert [change.changed_by for change in list_changes(session, ZONE_A, limit=1)] == ["vera"]

    record_id = created.json["id"]
    assert vera.delete(f"/api/v1/zones/{ZONE_A}/records/{record_id}", headers={"If-Match": "*"}).status_code == 204
    assert vera.post(f"/dns/{ZONE_B}/records", data={**RECORD}).status_code == 403


def test_an_admin_edits_any_zone(app: Flask, two_zones: FlaskClient) -> None:
    assert two_zones.post(f"/api/v1/zones/{ZONE_B}/records", json=RECORD).status_code == 201


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.RELEASE_MANAGER])
def test_only_an_admin_manages_zones(app: Flask, two_zones: FlaskClient, role: Role) -> None:
    user = client_as(app, "someone", role.value, zones=(ZONE_A,))
    assert user.post("/api/v1/zones", json=new_zone("third.test")).status_code == 403
    assert user.patch(f"/api/v1/zones/{ZONE_A}", json={"default_ttl": 60, "version": 1}).status_code == 403
    assert user.delete(f"/api/v1/zones/{ZONE_A}?version=1").status_code == 403
    assert user.get("/dns/new").status_code == 403
    assert 'id="new-zone-link"' not in user.get("/dns").get_data(as_text=True)
