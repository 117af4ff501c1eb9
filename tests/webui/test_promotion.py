"""Promotion through the API and the pages, and an environment that accepts only what succeeded in another
first: a git project (a file:// repository made by the test) with staging and a protected production, runs
ended through the worker's services, the embedded services (SQLite)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from playdeck import db, environments
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from testing.git_servers import RepoBuilder
from tests.conftest import as_user, free_extra_vars, request_regeneration
from tests.dns.conftest import make_zone
from tests.git.projects import add_staged_project, shop_repo
from tests.statements import recorded_statements
from tests.webui.account_testing import audited, browser_as, post_form
from tests.webui.test_releases_api import deployed

PRODUCTION = "/api/v1/projects/shop/environments/production"


@pytest.fixture
def shop(embedded, tmp_path) -> RepoBuilder:
    """shop: staging, qa and a protected production, all deploying main of a repository with tags v1.0, v1.1."""
    repo = shop_repo(tmp_path / "repos")
    with db.session_scope() as session:
        add_staged_project(session, "shop", repo.url, environments=("staging", "qa", "production"))
    free_extra_vars("shop")
    return repo


def promote(client: FlaskClient, run_id: int, to: object = "production", **headers: str):
    return client.post(f"/api/v1/runs/{run_id}/promote", json={"to": to}, headers=headers)


def test_a_successful_staging_run_is_promoted_with_its_commit_and_parameters(client, shop: RepoBuilder) -> None:
    parameters = {"extra_vars": {"workers": 3}, "limit": "web1", "tags": ["app"]}
    staging = deployed("shop", "staging", shop.head("v1.0"), **parameters)
    shop.commit("fourth", {"VERSION": "2.0\n"})  # main moves on: the promotion still deploys v1.0's commit

    answer = promote(client, staging)

    assert answer.status_code == 201, answer.get_json()
    run = answer.get_json()
    assert answer.headers["Location"].endswith(f"/runs/{run['id']}")
    assert (run["environment"], run["commit"], run["ref"], run["promoted_from"]) == (
        "production", shop.head("v1.0"), "main", staging
    )  # fmt: skip
    assert (run["extra_vars"], run["limit"], run["tags"], run["check"]) == ({"workers": 3}, "web1", ["app"], False)
    assert (run["state"], run["requested_by"], run["relaunch_of"]) == ("queued", "admin", None)
    actor, target, details = audited("run.promote")[0]
    assert (actor, target, details["promoted_from"], details["environment"]) == (
        "admin", str(run["id"]), staging, "production"
    )  # fmt: skip

    # The link both ways, on the run pages.
    source_page = client.get(f"/runs/{staging}").get_data(as_text=True)
    assert re.search(rf'id="promoted-to">Promoted to\s*production in <a href="/runs/{run["id"]}">', source_page)
    promoted_page = client.get(f"/runs/{run['id']}").get_data(as_text=True)
    assert f'id="promoted-from">Promoted from <a href="/runs/{staging}">run #{staging}</a>' in promoted_page


def test_the_run_page_offers_promotion_to_the_environments_the_viewer_may_deploy_to(client, shop) -> None:
    staging = deployed("shop", "staging", shop.head("v1.0"))
    page = client.get(f"/runs/{staging}").get_data(as_text=True)
    offered = re.findall(r'<button type="submit" name="to" value="(\w+)">Promote to (\w+)</button>', page)
    assert sorted(offered) == [("production", "production"), ("qa", "qa")]

    developer = as_user("dev", "developer", projects=("shop",))
    shown = client.get(f"/runs/{staging}", headers=developer).get_data(as_text=True)
    assert 'value="qa">Promote to qa' in shown and "Promote to production" not in shown  # protected
    failed = deployed("shop", "staging", shop.head("v1.1"), state=RunState.FAILED)
    assert "Promote to" not in client.get(f"/runs/{failed}").get_data(as_text=True)
    check = deployed("shop", "staging", shop.head("v1.1"), check=True)
    assert "Promote to" not in client.get(f"/runs/{check}").get_data(as_text=True)


def test_what_cannot_be_promoted_is_refused_with_why(client, shop: RepoBuilder) -> None:
    staging = deployed("shop", "staging", shop.head("v1.0"))
    failed = deployed("shop", "staging", shop.head("v1.1"), state=RunState.FAILED)
    check = deployed("shop", "staging", shop.head("v1.1"), check=True)

    refused = promote(client, failed)
    assert refused.status_code == 409 and refused.get_json()["error"] == (
        f"run {failed} is failed: only a successful deploy is promoted"
    )
    refused = promote(client, check)
    assert refused.status_code == 409 and "check-mode (dry) run: it deployed nothing" in refused.get_json()["error"]
    same = promote(client, staging, "staging")
    assert same.status_code == 400 and same.get_json()["field"] == "to"
    assert "already deployed to staging" in same.get_json()["error"]
    unknown = promote(client, staging, "moon")
    assert (
        unknown.status_code == 400
        and "has no environment 'moon' (others: production, qa)" in (unknown.get_json()["error"])
    )
    for body in ({}, {"to": 7}, {"to": ""}, {"to": "production", "hosts": "all"}, {"to": "x", "requested_by": "eve"}):
        answer = client.post(f"/api/v1/runs/{staging}/promote", json=body)
        assert answer.status_code == 400, (body, answer.get_json())
    assert client.post(f"/api/v1/runs/{staging}/promote", data="to=production").status_code == 415
    assert promote(client, 424242).status_code == 404
    cross_site = client.post(
        f"/api/v1/runs/{staging}/promote", json={"to": "production"}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    # Nothing was queued by any of these.
    assert client.get("/api/v1/runs?environment=production").get_json()["runs"] == []


def test_a_developer_promotes_only_where_they_may_deploy(client, shop: RepoBuilder) -> None:
    staging = deployed("shop", "staging", shop.head("v1.0"))
    developer = as_user("dev", "developer", projects=("shop",))
    refused = promote(client, staging, **developer)
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "environment production is protected: deploying there needs a release manager"
    outsider = promote(client, staging, "qa", **as_user("out", "developer"))
    assert outsider.status_code == 403 and "not a member of project shop" in outsider.get_json()["error"]
    assert promote(client, staging, "qa", **as_user("vic", "viewer")).status_code == 403
    assert client.get("/api/v1/runs?project=shop&environment=production").get_json()["runs"] == []

    allowed = promote(client, staging, "qa", **developer)
    assert allowed.status_code == 201 and allowed.get_json()["requested_by"] == "dev"
    manager = promote(client, staging, **as_user("rita", "release_manager"))
    assert manager.status_code == 201 and manager.get_json()["environment"] == "production"


def test_a_dns_run_is_not_promoted(client, embedded) -> None:
    run_id = request_regeneration(make_zone())
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 1)
    with db.session_scope() as session:
        assert finish_run(session, run_id, RunState.SUCCESSFUL, rc=0)
    refused = promote(client, run_id, "staging")
    assert refused.status_code == 409 and "is a dns run, not a deploy" in refused.get_json()["error"]


def test_production_accepts_only_commits_that_succeeded_in_staging(client, shop: RepoBuilder) -> None:
    assert client.patch(PRODUCTION, json={"requires_success_in": "staging"}).get_json()["requires_success_in"] == (
        "staging"
    )
    deployed("shop", "staging", shop.head("v1.1"), state=RunState.FAILED)  # a failure does not count
    deployed("shop", "staging", shop.head("v1.1"), check=True)  # nor a dry run

    refused = client.post("/api/v1/runs", json={"project": "shop", "environment": "production", "ref": "v1.1"})

    assert refused.status_code == 409
    assert refused.get_json()["error"] == (
        f"production accepts only what succeeded in staging first: commit {shop.head('v1.1')[:12]} (v1.1) has no "
        "successful deploy in staging"
    )
    staging = deployed("shop", "staging", shop.head("v1.1"))
    accepted = client.post("/api/v1/runs", json={"project": "shop", "environment": "production", "ref": "v1.1"})
    assert accepted.status_code == 201, accepted.get_json()
    assert promote(client, staging).status_code == 201
    # A dry run of anything is let through: it changes no host.
    dry = client.post(
        "/api/v1/runs", json={"project": "shop", "environment": "production", "ref": "v1.0", "check": True}
    )
    assert dry.status_code == 201, dry.get_json()
    # qa has no such rule; promoting qa's run of a commit staging never saw to production is refused.
    qa = deployed("shop", "qa", shop.head("v1.0"))
    refused = promote(client, qa)
    assert refused.status_code == 409 and "has no successful deploy in staging" in refused.get_json()["error"]

    assert client.patch(PRODUCTION, json={"requires_success_in": None}).get_json()["requires_success_in"] is None
    assert promote(client, qa).status_code == 201


def test_a_rollback_is_not_blocked_by_what_staging_saw_since(client, shop: RepoBuilder) -> None:
    # Deployed to production before the rule was set: v1.0, then v1.1.
    deployed("shop", "production", shop.head("v1.0"))
    current = deployed("shop", "production", shop.head("v1.1"))
    client.patch(PRODUCTION, json={"requires_success_in": "staging"})

    rollback = client.post(f"{PRODUCTION}/rollback")

    assert rollback.status_code == 201, rollback.get_json()
    assert (rollback.get_json()["commit"], rollback.get_json()["rollback_of"]) == (shop.head("v1.0"), current)
    # A commit production has never run is held to the rule.
    refused = client.post("/api/v1/runs", json={"project": "shop", "environment": "production", "ref": "main"})
    assert refused.status_code == 409 and "has no successful deploy in staging" in refused.get_json()["error"]


def test_a_directory_project_is_held_to_the_rule_by_version(client, embedded) -> None:
    free_extra_vars()
    url = "/api/v1/projects/sampleapp/environments/production"
    assert client.patch(url, json={"requires_success_in": "staging"}).status_code == 200
    refused = client.post("/api/v1/runs", json={"project": "sampleapp", "environment": "production", "version": "2.0"})
    assert refused.status_code == 409 and refused.get_json()["error"].endswith(
        "version 2.0 has no successful deploy in staging"
    )
    deployed("sampleapp", "staging", None, version="2.0")
    accepted = client.post("/api/v1/runs", json={"project": "sampleapp", "environment": "production", "version": "2.0"})
    assert accepted.status_code == 201, accepted.get_json()


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("production", "production cannot require success in itself"),
        ("moon", "project 'shop' has no environment 'moon' (others: qa, staging)"),
        ("", "must be the name of another environment"),
        (7, "must be the name of another environment"),
        ("qa", "production -> qa -> staging -> production: a loop of requirements would admit nothing"),
    ],
)
def test_a_bad_requirement_is_refused_and_nothing_changes(client, shop, value, error) -> None:
    client.patch("/api/v1/projects/shop/environments/staging", json={"requires_success_in": "production"})
    client.patch("/api/v1/projects/shop/environments/qa", json={"requires_success_in": "staging"})
    refused = client.patch(PRODUCTION, json={"requires_success_in": value})
    assert (refused.status_code, refused.get_json()["field"]) == (400, "requires_success_in")
    assert error in refused.get_json()["error"]
    assert client.get(PRODUCTION).get_json()["requires_success_in"] is None


def test_a_missing_required_environment_refuses_with_what_to_do(client, shop: RepoBuilder) -> None:
    client.patch(PRODUCTION, json={"requires_success_in": "qa"})
    removed = client.patch("/api/v1/projects/shop", json={"environments": {"qa": None}})
    assert removed.status_code == 200, removed.get_json()

    refused = client.post("/api/v1/runs", json={"project": "shop", "environment": "production", "ref": "v1.0"})

    assert refused.status_code == 409
    assert (
        "has no environment 'qa' any more: an admin must change production's requires_success_in"
        in (refused.get_json()["error"])
    )


def test_the_admin_project_page_shows_and_edits_the_rule(app, shop: RepoBuilder) -> None:
    admin = browser_as(app, "alice", "admin")
    page = "/admin/projects/shop"
    action = f"{page}/environments/production/settings"

    saved = post_form(admin, action, {"queue": "", "known_hosts": "", "requires_success_in": "staging"}, page=page)

    assert saved.status_code == 303
    shown = admin.get(page).get_data(as_text=True)
    assert re.search(r'data-environment="production">.*?class="requires-success-in">staging<', shown, re.S)
    assert '<option value="staging" selected>staging</option>' in shown
    refused = post_form(admin, action, {"queue": "", "known_hosts": "", "requires_success_in": "moon"}, page=page)
    assert refused.status_code == 400 and "has no environment &#39;moon&#39;" in refused.get_data(as_text=True)
    cleared = post_form(admin, action, {"queue": "", "known_hosts": "", "requires_success_in": ""}, page=page)
    assert cleared.status_code == 303
    assert [details["after"] for _, _, details in audited("environment.update")] == [
        {"queue": None, "known_hosts_entries": 0, "requires_success_in": "staging"},
        {"queue": None, "known_hosts_entries": 0, "requires_success_in": None},
    ]


def test_the_run_page_form_promotes_and_refuses_with_the_reason(app, shop: RepoBuilder) -> None:
    staging = deployed("shop", "staging", shop.head("v1.0"))
    qa = deployed("shop", "qa", shop.head("v1.1"))
    with db.session_scope() as session:
        environments.set_options(session, "shop", "production", requires_success_in="staging")
    admin = browser_as(app, "alice", "admin")

    promoted = post_form(admin, f"/runs/{staging}/promote", {"to": "production"}, page=f"/runs/{staging}")
    assert promoted.status_code == 303
    new_id = int(promoted.headers["Location"].rsplit("/", 1)[1])
    refused = post_form(admin, f"/runs/{qa}/promote", {"to": "production"}, page=f"/runs/{qa}")
    assert refused.status_code == 409
    assert "has no successful deploy in staging" in refused.get_data(as_text=True)
    # A developer's own session: the button is not offered, and a forged form is refused.
    developer = browser_as(app, "dev", "developer", projects=("shop",))
    forged = post_form(developer, f"/runs/{staging}/promote", {"to": "production"}, page=f"/runs/{staging}")
    assert forged.status_code == 403
    assert [run["id"] for run in admin.get("/api/v1/runs?environment=production").get_json()["runs"]] == [new_id]


def test_the_promotion_part_alone_and_what_it_costs(client, shop: RepoBuilder) -> None:
    staging = deployed("shop", "staging", shop.head("v1.0"))
    failed = deployed("shop", "staging", shop.head("v1.1"), state=RunState.FAILED)
    part = client.get(f"/runs/{staging}/promotion").get_data(as_text=True)
    assert "Promote to production" in part and "<html" not in part
    assert "Promote to" not in client.get(f"/runs/{failed}/promotion").get_data(as_text=True)
    assert client.get("/runs/424242/promotion").status_code == 404

    # The run page of a successful deploy reads its promotions and environments in one statement; others none.
    reads = {}
    for run_id in (failed, staging):
        client.get(f"/runs/{run_id}")
        with recorded_statements() as statements:
            assert client.get(f"/runs/{run_id}").status_code == 200
        reads[run_id] = [text for text, _ in statements if "promoted_from_id =" in text or "FROM environments" in text]
    assert (len(reads[failed]), len(reads[staging])) == (0, 1), reads
