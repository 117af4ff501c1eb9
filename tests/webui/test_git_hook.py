"""Deploy on push: real signed payloads as GitHub, Gitea and GitLab send them, against a file:// repository.
A bad or missing signature is a 401 and an audit record and nothing else; a push to a mapped branch queues the
deploy of the pushed commit as the hook user, under the same permission checks as a person's deploy."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from playdeck import db, secrets
from playdeck.models import AuditEvent, Run
from playdeck.pipelines import service as pipeline_service
from playdeck.pipelines.models import PipelineRun
from testing.git_servers import RepoBuilder
from tests.conftest import make_user, use_key, web_client
from tests.git.projects import add_staged_project

SECRET = "a-long-push-hook-secret-0123456789"
URL = "/api/v1/projects/shop/git-hook"


@pytest.fixture
def shop(embedded, tmp_path, monkeypatch) -> RepoBuilder:
    """Project shop from a new repository: main → staging, release → production (protected); a hook secret."""
    use_key(monkeypatch, Fernet.generate_key().decode())
    repo = RepoBuilder(tmp_path / "repos", "shop")
    repo.commit("first", {"deploy/site.yml": "- hosts: all\n"})
    with db.session_scope() as session:
        add_staged_project(
            session, "shop", repo.url, branch_environments_json=json.dumps({"main": "staging", "release": "production"})
        )
        secrets.set_secret(session, "shop", None, secrets.WEBHOOK_SECRET, SECRET, who="tests")
    return repo


def payload(repo: RepoBuilder, branch: str = "main", after: str | None = None) -> bytes:
    """A push event's body as the services send it (the fields Playdeck reads, and some it does not)."""
    after = after or repo.head(branch)
    return json.dumps(
        {
            "ref": f"refs/heads/{branch}",
            "before": "0" * 40,
            "after": after,
            "repository": {"name": "shop", "full_name": "team/shop", "clone_url": repo.url},
            "pusher": {"name": "ada", "email": "ada@example.test"},
            "commits": [{"id": after, "message": "work", "author": {"name": "Ada Dev"}}],
        }
    ).encode()


def signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github(body: bytes, secret: str = SECRET, event: str = "push") -> dict[str, str]:
    return {"X-GitHub-Event": event, "X-Hub-Signature-256": f"sha256={signature(body, secret)}"}


def gitea(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Gitea-Event": "push", "X-Gitea-Signature": signature(body, secret)}


def gitlab(_body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}


def post(app, body: bytes, headers: dict[str, str], project: str = "shop"):
    """As a git server calls: no session, no token, no CSRF token."""
    return app.test_client().post(
        f"/api/v1/projects/{project}/git-hook", data=body, headers=headers, content_type="application/json"
    )


def runs_and_refusals() -> tuple[int, list[dict]]:
    with db.session_scope() as session:
        count = len(session.scalars(select(Run.id)).all())
        refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "git_hook.refused")).all()
        return count, [{"address": event.address, **event.details} for event in refused]


@pytest.mark.parametrize("sign", [github, gitea, gitlab])
def test_a_signed_push_to_a_mapped_branch_deploys_the_pushed_commit_as_the_hook_user(app, shop, sign) -> None:
    make_user("git-hook", "developer", projects=("shop",))
    pushed = shop.commit("second", {"VERSION": "2\n"})  # newer than anything fetched before
    body = payload(shop)

    answer = post(app, body, sign(body))

    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["environment"] == "staging"
    with db.session_scope() as session:
        run = session.get(Run, answer.get_json()["run"])
        assert (run.commit_sha, run.ref, run.commit_subject) == (pushed, "main", "second")
        assert (run.requested_by, run.environment.name, run.state) == ("git-hook", "staging", "queued")
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["git_hook.push", "run.request"]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no signature at all
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha1=" + "0" * 40},
        {"X-Gitea-Event": "push", "X-Gitea-Signature": "not hex"},
        {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET[:-1]},
    ],
)
def test_a_bad_or_missing_signature_is_401_audited_and_does_nothing(app, shop, headers) -> None:
    make_user("git-hook", "release_manager")
    before, _ = runs_and_refusals()

    answer = post(app, payload(shop), headers)

    assert answer.status_code == 401 and "signature" in answer.get_json()["error"]
    after, refused = runs_and_refusals()
    assert after == before and len(refused) == 1
    assert refused[0]["reason"] in ("no signature header", "wrong signature")


def test_a_signature_made_with_another_secret_or_for_another_body(app, shop) -> None:
    body = payload(shop)
    assert post(app, body, github(body, secret="another-secret-of-enough-length")).status_code == 401
    assert post(app, body + b" ", github(body)).status_code == 401
    # Unknown project and a project without a secret: the same answer, the reason in the audit log only.
    assert post(app, body, github(body), project="nope").status_code == 401
    assert post(app, body, github(body), project="sampleapp").status_code == 401
    reasons = [refusal["reason"] for refusal in runs_and_refusals()[1]]
    assert reasons == [
        "wrong signature",
        "wrong signature",
        "no such project (or archived)",
        "the project has no webhook secret",
    ]


def test_unmapped_branches_tags_deletions_and_other_events_deploy_nothing(app, shop) -> None:
    make_user("git-hook", "release_manager")
    shop.branch("topic")
    shop.commit("topic work")
    before, _ = runs_and_refusals()
    for body in (
        payload(shop, "topic"),
        json.dumps({"ref": "refs/tags/v1", "after": shop.head()}).encode(),
        json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode(),
    ):
        answer = post(app, body, github(body))
        assert answer.status_code == 200 and "nothing to deploy" in answer.get_json()["message"]
    ping = b'{"zen": "Design for failure."}'
    assert post(app, ping, github(ping, event="ping")).status_code == 200
    assert runs_and_refusals()[0] == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (b'{"after": "' + b"a" * 40 + b'"}', "ref"),
        (b'{"ref": "refs/heads/main", "after": "HEAD"}', "after"),
        (b'{"ref": "main", "after": "' + b"a" * 40 + b'"}', "ref"),
    ],
)
def test_a_malformed_payload_is_400(app, shop, body, field) -> None:
    answer = post(app, body, gitea(body))
    assert answer.status_code == 400 and answer.get_json()["field"] == field


def test_a_body_over_the_limit_is_413(app, shop) -> None:
    body = b'{"padding": "' + b"x" * (1024 * 1024) + b'"}'
    assert post(app, body, github(body)).status_code == 413


def test_the_hook_user_needs_the_same_rights_as_a_person(app, shop) -> None:
    body = payload(shop)
    missing = post(app, body, github(body))
    assert missing.status_code == 403 and "playdeck user add git-hook" in missing.get_json()["error"]

    make_user("git-hook", "developer")  # not a member of shop
    assert post(app, body, github(body)).status_code == 403
    make_user("git-hook", "developer", projects=("shop",))
    shop.branch("release")
    release = payload(shop, "release")
    protected = post(app, release, github(release))
    assert protected.status_code == 403 and "protected" in protected.get_json()["error"]
    assert post(app, body, github(body)).status_code == 202


PIPELINE_STEPS = [{"name": "staging", "kind": "deploy", "environment": "staging"}]


def map_main_to(pipeline: str, steps: list[dict]) -> None:
    """Pipeline ``pipeline`` of shop, started by pushes to main (set through the project API)."""
    with db.session_scope() as session:
        pipeline_service.create(session, {"project": "shop", "name": pipeline, "steps": steps}, "admin")
    answer = web_client().patch("/api/v1/projects/shop", json={"branch_pipelines": {"main": pipeline}})
    assert answer.status_code == 200, answer.json
    assert answer.json["branch_pipelines"] == {"main": pipeline}


def test_a_push_to_a_branch_mapped_to_a_pipeline_starts_it_at_the_pushed_commit(app, shop) -> None:
    make_user("git-hook", "developer", projects=("shop",))
    map_main_to("ship", PIPELINE_STEPS)
    pushed = shop.commit("second", {"VERSION": "2\n"})
    body = payload(shop)
    answer = post(app, body, github(body))
    assert answer.status_code == 202, answer.get_json()
    with db.session_scope() as session:
        pipeline_run = session.get(PipelineRun, answer.get_json()["pipeline_run"])
        assert (pipeline_run.commit_sha, pipeline_run.ref, pipeline_run.requested_by) == (pushed, "main", "git-hook")
        assert [step.state for step in pipeline_run.step_runs] == ["running"]


def test_the_hook_user_may_not_start_a_pipeline_reaching_a_protected_environment(app, shop) -> None:
    make_user("git-hook", "developer", projects=("shop",))
    map_main_to("release", [*PIPELINE_STEPS, {"name": "production", "kind": "deploy", "environment": "production"}])
    body = payload(shop)
    answer = post(app, body, github(body))
    assert answer.status_code == 403 and "production" in answer.get_json()["error"]
    with db.session_scope() as session:
        assert session.scalars(select(PipelineRun.id)).all() == []
