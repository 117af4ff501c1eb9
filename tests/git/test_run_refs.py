"""Queueing a deploy of a git project: the ref resolved to a full commit from the project's mirror (fetched over
real HTTPS with a token, unless fresh enough), recorded on the run; bad refs and credentials refused with the
field named and nothing created."""

from __future__ import annotations

import threading

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from playdeck import db
from playdeck.models import Project, Run
from playdeck.runs.relaunch import relaunch_request
from playdeck.runs.requests import RunRequest
from playdeck.runs.states import RunState
from playdeck.runs.transitions import finish_run
from tests.conftest import queue_run, use_key, web_client
from tests.git.conftest import TOKEN
from tests.git.projects import add_git_project


@pytest.fixture
def shop(monkeypatch, https_server, repo) -> str:
    """Project "shop" over HTTPS with the right token, cache time 60 s."""
    use_key(monkeypatch, Fernet.generate_key().decode())
    with db.session_scope() as session:
        add_git_project(session, "shop", https_server.url("shop"), token=TOKEN, git_cache_seconds=60)
    return "shop"


def run_count() -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count()).select_from(Run))


def deploy(client, **body):
    return client.post("/api/v1/runs", json={"project": "shop", "environment": "staging", **body})


def test_a_deploy_records_the_branch_tip_by_default_and_a_tag_or_commit_when_asked(embedded, shop, repo):
    client = web_client()
    default = deploy(client)
    assert default.status_code == 201, default.get_json()
    run = default.get_json()
    assert (run["ref"], run["commit"], run["commit_subject"]) == ("main", repo.head("main"), "third")

    tagged = deploy(client, ref="v1.0", version="1.0").get_json()
    assert (tagged["ref"], tagged["commit"], tagged["commit_subject"]) == ("v1.0", repo.head("v1.0"), "first")
    short = repo.head("feature")[:10]
    by_id = deploy(client, ref=short).get_json()
    assert (by_id["ref"], by_id["commit"]) == (short, repo.head("feature"))

    listed = client.get("/api/v1/runs?project=shop").get_json()["runs"]
    assert [run["commit"] for run in listed] == [repo.head("feature"), repo.head("v1.0"), repo.head("main")]
    # The run page shows ref, short commit and subject.
    page = client.get(f"/runs/{tagged['id']}").get_data(as_text=True)
    assert "v1.0 @" in page and repo.head("v1.0")[:12] in page and "first" in page


def test_twenty_deploys_queued_together_for_one_commit_cause_one_fetch(production, shop, https_server, repo):
    results: list[object] = []

    def queue() -> None:
        try:
            results.append(queue_run(RunRequest("shop", "staging", ref="v1.1", requested_by="ci")))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=queue) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(isinstance(run, Run) for run in results), results
    assert {run.commit_sha for run in results} == {repo.head("v1.1")}
    assert https_server.fetches() == 1


def test_the_mirror_is_fetched_again_once_the_cache_time_has_passed(embedded, shop, https_server, repo):
    client = web_client()
    old_tip = repo.head("main")
    assert deploy(client).get_json()["commit"] == old_tip
    new_tip = repo.commit("fourth", {"VERSION": "1.3\n"})
    # Within the cache time the mirror is not fetched again: the branch names what it named.
    assert deploy(client).get_json()["commit"] == old_tip
    assert https_server.fetches() == 1
    with db.session_scope() as session:
        session.scalar(select(Project).where(Project.name == "shop")).git_cache_seconds = 0
    assert deploy(client).get_json()["commit"] == new_tip
    assert https_server.fetches() == 2


def test_an_unknown_ref_is_refused_naming_the_closest_and_nothing_is_queued(embedded, shop):
    answer = deploy(web_client(), ref="v1.2")
    assert answer.status_code == 400
    error = answer.get_json()
    assert error["field"] == "ref"
    assert "no branch, tag or commit 'v1.2'" in error["error"] and "v1.1" in error["error"]
    assert run_count() == 0


@pytest.mark.parametrize(
    "ref", ["--upload-pack=touch /tmp/pwned", "-c core.sshCommand=touch /tmp/pwned", "-cx=y", "main..feature", "a b"]
)
def test_option_like_refs_are_refused_before_git_sees_them(embedded, shop, https_server, ref, tmp_path):
    answer = deploy(web_client(), ref=ref)
    assert answer.status_code == 400 and answer.get_json()["field"] == "ref"
    assert run_count() == 0
    # Refused before any fetch.
    assert https_server.fetches() == 0


def test_a_refused_credential_names_it_and_queues_nothing(embedded, monkeypatch, https_server, repo):
    use_key(monkeypatch, Fernet.generate_key().decode())
    with db.session_scope() as session:
        add_git_project(session, "shop", https_server.url("shop"), token="not-the-token")
    answer = deploy(web_client())
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "git_credential" and "authentication failed" in answer.get_json()["error"]
    assert run_count() == 0


def test_an_unreachable_repository_names_the_url(embedded, monkeypatch, tmp_path):
    with db.session_scope() as session:
        add_git_project(session, "shop", f"file://{tmp_path}/nowhere.git")
    answer = deploy(web_client())
    assert answer.status_code == 400 and answer.get_json()["field"] == "git_url"
    assert run_count() == 0


def test_a_directory_project_takes_no_ref(embedded):
    answer = web_client().post("/api/v1/runs", json={"project": "sampleapp", "environment": "staging", "ref": "main"})
    assert answer.status_code == 400 and answer.get_json()["field"] == "ref"
    assert "directory" in answer.get_json()["error"]


def test_a_relaunch_deploys_the_same_commit_after_the_branch_moved(embedded, shop, repo):
    first = queue_run(RunRequest("shop", "staging", requested_by="ci"))
    with db.session_scope() as session:
        finish_run(session, first.id, RunState.ERROR, reason="test")
    repo.commit("moved on", {"VERSION": "2.0\n"})
    with db.session_scope() as session:
        request = relaunch_request(session, first.id, requested_by="ci")
    again = queue_run(request)
    assert (again.ref, again.commit_sha, again.commit_subject) == ("main", first.commit_sha, "third")
