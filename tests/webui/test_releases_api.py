"""A git project's releases through the API: the refs a deploy form offers, what a ref would ship to an
environment (commits, reverts, a rollback), the deployed versions of an environment, and rolling it back.
A file:// repository made by the test, the embedded services (SQLite)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update

from playdeck import db, secrets
from playdeck.models import Project
from playdeck.releases.ref_listing import MAX_LIMIT
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from testing.git_servers import RepoBuilder
from tests.conftest import as_user, free_extra_vars, use_key
from tests.git.projects import add_git_project, shop_repo

HOOK_SECRET = "a-long-push-hook-secret-0123456789"


@pytest.fixture
def repo(tmp_path) -> RepoBuilder:
    """main: first (tag v1.0, annotated), second (tag v1.1), a revert of second, third; branch feature."""
    return shop_repo(tmp_path / "repos", revert_second=True)


@pytest.fixture
def shop(embedded, repo: RepoBuilder, monkeypatch) -> RepoBuilder:
    use_key(monkeypatch, Fernet.generate_key().decode())
    with db.session_scope() as session:
        add_git_project(
            session,
            "shop",
            repo.url,
            environments={"staging": "deploy/inventory.ini", "production": "deploy/inventory.ini"},
            branch_environments_json='{"main": "staging"}',
        )
        session.flush()
        secrets.set_secret(session, "shop", None, secrets.WEBHOOK_SECRET, HOOK_SECRET, who="tests")
    return repo


def deployed(
    project: str, environment: str, commit: str | None, state: RunState = RunState.SUCCESSFUL, **request
) -> int:
    """A finished deploy of ``commit`` (a git project's, as resolved when queued; None for a directory project),
    through the worker's services."""
    if commit is not None:
        request.update(ref="main", commit_sha=commit, commit_subject="s")
    with db.session_scope() as session:
        run_id = request_run(session, RunRequest(project, environment, requested_by="dora", **request)).id
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 1)
    with db.session_scope() as session:
        assert finish_run(session, run_id, state, rc=0)
    return run_id


def test_refs_newest_first_default_branch_first_filtered_and_limited(client, shop: RepoBuilder) -> None:
    body = client.get("/api/v1/projects/shop/refs").get_json()

    names = [ref["name"] for ref in body["refs"]]
    assert names[0] == "main" and set(names) == {"main", "feature", "v1.0", "v1.1"}
    assert body["default_branch"] == "main" and body["total"] == 4
    v10 = next(ref for ref in body["refs"] if ref["name"] == "v1.0")
    assert (v10["kind"], v10["subject"], v10["author"]) == ("tag", "first", "Ada Dev")
    assert v10["short_commit"] == v10["commit"][:12] and v10["date"].startswith("2024-01-01")

    tags = client.get("/api/v1/projects/shop/refs?q=V1.&limit=1").get_json()
    assert [ref["name"] for ref in tags["refs"]] == ["v1.1"] and tags["total"] == 2

    for query, field in (("limit=0", "limit"), ("limit=x", "limit"), ("q=%0A", "q")):
        answer = client.get(f"/api/v1/projects/shop/refs?{query}")
        assert answer.status_code == 400 and answer.get_json()["field"] == field
    assert client.get("/api/v1/projects/sampleapp/refs").status_code == 400  # a directory project
    assert client.get("/api/v1/projects/nope/refs").status_code == 404


def test_refs_are_read_again_after_a_fetch_only(client, shop: RepoBuilder) -> None:
    with db.session_scope() as session:
        session.execute(update(Project).values(git_cache_seconds=0))
    assert client.get("/api/v1/projects/shop/refs?q=v2").get_json()["total"] == 0
    shop.tag("v2.0")
    # Cache time 0: the next call fetches, and the new tag is listed.
    assert [ref["name"] for ref in client.get("/api/v1/projects/shop/refs?q=v2").get_json()["refs"]] == ["v2.0"]
    shop.commit("fourth", {"VERSION": "2.0.1\n"})
    shop.tag("v2.0.1")
    newest_first = client.get("/api/v1/projects/shop/refs?q=v2").get_json()["refs"]
    assert [ref["name"] for ref in newest_first] == ["v2.0.1", "v2.0"]
    # The ref named exactly comes first (a picker showing a few of many matches lists the one typed).
    exact = client.get("/api/v1/projects/shop/refs?q=v2.0&limit=1").get_json()
    assert [ref["name"] for ref in exact["refs"]] == ["v2.0"] and exact["total"] == 2


def test_what_will_ship_lists_commits_and_reverts_or_says_rollback(client, shop: RepoBuilder) -> None:
    url = "/api/v1/projects/shop/environments/staging/changes"
    nothing = client.get(f"{url}?ref=v1.0").get_json()
    assert nothing["deployed"] is None and nothing["summary"].startswith("nothing has been deployed")
    assert nothing["chosen"]["subject"] == "first"

    run_id = deployed("shop", "staging", shop.head("v1.0"))
    forward = client.get(f"{url}?ref=main").get_json()
    assert forward["deployed"]["run"] == run_id and forward["deployed"]["commit"] == shop.head("v1.0")
    assert [change["subject"] for change in forward["added"]] == ["third", 'Revert "second"', "second"]
    assert forward["summary"] == "3 commits, including 1 revert" and not forward["rollback"]
    assert forward["added"][1]["revert"] and forward["added"][0]["author"] == "Ada Dev"

    deployed("shop", "staging", shop.head("main"))
    back = client.get(f"{url}?ref=v1.1").get_json()
    assert back["rollback"] and back["summary"].startswith("older than what is deployed: a rollback")
    assert back["removed_total"] == 2 and back["added"] == []
    same = client.get(f"{url}?ref=main").get_json()
    assert same["summary"] == "the deployed commit: nothing changes"


def test_what_will_ship_refuses_unknown_and_injected_refs(client, shop: RepoBuilder) -> None:
    url = "/api/v1/projects/shop/environments/staging/changes"
    unknown = client.get(f"{url}?ref=v1.2")
    assert unknown.status_code == 400 and unknown.get_json()["field"] == "ref"
    assert "v1.1" in unknown.get_json()["error"]  # the closest names
    for ref in ("--upload-pack=touch /tmp/x", "-c", ""):
        answer = client.get(url, query_string={"ref": ref})
        assert answer.status_code == 400 and answer.get_json()["field"] == "ref"
    assert client.get("/api/v1/projects/shop/environments/nope/changes?ref=main").status_code == 404


def test_deployed_versions_and_roll_back(client, embedded) -> None:
    free_extra_vars()
    first = deployed("sampleapp", "staging", None, version="1.0", extra_vars={"workers": 2})
    deployed("sampleapp", "staging", None, version="1.1", state=RunState.FAILED)
    current = deployed("sampleapp", "staging", None, version="2.0")

    history = client.get("/api/v1/projects/sampleapp/environments/staging/deployments?limit=2").get_json()
    assert [row["run"] for row in history["deployments"]] == [current, current - 1] and history["has_more"]
    assert history["deployments"][0]["current"] and history["deployments"][1]["state"] == "failed"
    older = client.get(f"/api/v1/projects/sampleapp/environments/staging/deployments?before={current - 1}")
    assert [row["run"] for row in older.get_json()["deployments"]] == [first]

    answer = client.post("/api/v1/projects/sampleapp/environments/staging/rollback")
    assert answer.status_code == 201, answer.get_json()
    rollback = answer.get_json()
    assert (rollback["version"], rollback["extra_vars"], rollback["rollback_of"]) == ("1.0", {"workers": 2}, current)
    assert rollback["requested_by"] == "admin" and answer.headers["Location"].endswith(f"/runs/{rollback['id']}")

    chosen = client.post("/api/v1/projects/sampleapp/environments/staging/rollback", json={"to_run": first})
    assert chosen.status_code == 201 and chosen.get_json()["rollback_of"] == current


def test_a_git_rollback_deploys_the_commit_it_goes_back_to(client, shop: RepoBuilder) -> None:
    first = deployed("shop", "staging", shop.head("v1.0"))
    current = deployed("shop", "staging", shop.head("main"))
    shop.commit("fourth", {"VERSION": "1.3\n"})  # main moves on: the rollback still deploys v1.0's commit

    answer = client.post("/api/v1/projects/shop/environments/staging/rollback")

    assert answer.status_code == 201, answer.get_json()
    rollback = answer.get_json()
    assert (rollback["commit"], rollback["ref"], rollback["rollback_of"]) == (shop.head("v1.0"), "main", current)
    assert rollback["commit_subject"] == "s" and first < rollback["id"]


def test_roll_back_refusals(client, embedded) -> None:
    url = "/api/v1/projects/sampleapp/environments/{}/rollback"
    nothing = client.post(url.format("staging"))
    assert nothing.status_code == 409 and "nothing to roll back" in nothing.get_json()["error"]
    assert client.post(url.format("staging"), json={"requested_by": "eve"}).status_code == 400
    assert client.post(url.format("staging"), json={"hosts": "all"}).status_code == 400
    assert client.post(url.format("staging"), data="x", content_type="text/plain").status_code == 415
    assert client.post(url.format("nope")).status_code == 404
    deployed("sampleapp", "production", None, version="1.0")
    deployed("sampleapp", "production", None, version="2.0")
    assert client.post(url.format("production"), json={"to_run": "7"}).get_json()["field"] == "to_run"
    # The same permissions as a deploy: a developer member may not deploy to a protected environment.
    developer = as_user("dev", "developer", projects=("sampleapp",))
    refused = client.post(url.format("production"), headers=developer)
    assert refused.status_code == 403 and "protected" in refused.get_json()["error"]
    viewer = client.post(url.format("production"), headers=as_user("vic", "viewer"))
    assert viewer.status_code == 403
    cross_site = client.post(url.format("production"), headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403


def test_the_picker_filters_5000_tags_and_500_branches(client, shop: RepoBuilder) -> None:
    # How fast it answers is the benchmark's (python -m bench git: the version picker row), not a test's.
    before = len(shop.git("for-each-ref", "refs/heads", "refs/tags").splitlines())
    shop.many_refs(tags=5000, branches=500)
    everything = client.get("/api/v1/projects/shop/refs", query_string={"limit": MAX_LIMIT}).get_json()
    assert everything["total"] == before + 5500 and len(everything["refs"]) == MAX_LIMIT
    typed = client.get("/api/v1/projects/shop/refs", query_string={"q": "t0123"}).get_json()
    assert typed["total"] == 10 and sorted(ref["name"] for ref in typed["refs"]) == [f"t0123{n}" for n in range(10)]
    branches = client.get("/api/v1/projects/shop/refs", query_string={"q": "b049"}).get_json()
    assert branches["total"] == 10 and {ref["kind"] for ref in branches["refs"]} == {"branch"}
