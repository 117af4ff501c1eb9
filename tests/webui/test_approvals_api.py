"""Approvals end to end through the API, with real users, roles and tokens: a deploy to an environment that
requires approval waits, holds nothing and sends nothing; only the people the environment names decide,
never the requester, each once; the last approval queues and sends it; refusals are clear 4xx answers.

An attacker holds a real developer token: they can neither approve, nor approve their own run, nor get
around the approval with a relaunch, a rollback or a PATCH of the environment."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from playdeck.db import session_scope
from playdeck.models import AuditEvent, DeployLock, RunApproval
from playdeck.release_control import approval_expiry
from playdeck.runs.queries import get_run
from tests.conftest import as_user
from tests.webui.webui_testing import RUN, broker_messages

ENV_URL = "/api/v1/projects/sampleapp/environments/staging"


@pytest.fixture
def people(any_client):
    """Tokens of: mallory (developer of sampleapp: the attacker), dave (another developer), rita and
    rick (release managers), carol (a viewer named as approver)."""
    return {
        "mallory": as_user("mallory", "developer", projects=("sampleapp",)),
        "dave": as_user("dave", "developer", projects=("sampleapp",)),
        "rita": as_user("rita", "release_manager"),
        "rick": as_user("rick", "release_manager"),
        "carol": as_user("carol", "viewer"),
    }


def require_approvals(client, **settings) -> dict:
    body = {"approvals_required": 2, "approver_roles": ["release_manager"], "approver_users": ["carol"], **settings}
    response = client.patch(ENV_URL, json=body)
    assert response.status_code == 200, response.json
    return response.json


def deploy(client, headers, **fields) -> dict:
    response = client.post("/api/v1/runs", json={**RUN, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def decide(client, run_id, headers, decision="approve", comment="ok"):
    return client.post(f"/api/v1/runs/{run_id}/{decision}", json={"comment": comment}, headers=headers)


def messages_for(services, run_id) -> list:
    return [args for _task, args in broker_messages(services) if args == [run_id]]


def test_a_deploy_waits_for_two_approvals_and_the_last_one_queues_and_sends_it(any_client, services, people):
    shown = require_approvals(any_client)
    assert (shown["approvals_required"], shown["approver_roles"], shown["approver_users"]) == (
        2, ["release_manager"], ["carol"])  # fmt: skip
    run = deploy(any_client, people["mallory"])
    assert (run["state"], run["approvals_required"], run["approvals_given"]) == ("awaiting_approval", 2, 0)
    assert run["approval_expires_at"] and not run["terminal"]
    assert messages_for(services, run["id"]) == []  # no broker message while it waits

    first = decide(any_client, run["id"], people["rita"], comment="looks fine")
    assert first.status_code == 200, first.json
    assert (first.json["state"], first.json["approvals_given"]) == ("awaiting_approval", 1)
    assert messages_for(services, run["id"]) == []

    last = decide(any_client, run["id"], people["carol"], comment="go")
    assert last.status_code == 200, last.json
    assert last.json["state"] == "queued" and last.json["approved_at"]
    assert messages_for(services, run["id"]) == [[run["id"]]]
    assert [(d["user"], d["decision"], d["comment"]) for d in last.json["approvals"]] == [
        ("rita", "approve", "looks fine"), ("carol", "approve", "go")]  # fmt: skip
    with session_scope() as session:
        actions = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "run.approve", AuditEvent.target == str(run["id"]))
        ).all()
    assert sorted(actions) == ["carol", "rita"]
    again = decide(any_client, run["id"], people["rick"])
    assert again.status_code == 409 and "not awaiting approval: it is queued" in again.json["error"]


def test_the_attacker_neither_approves_nor_approves_their_own_run(any_client, people):
    require_approvals(any_client)
    own = deploy(any_client, people["mallory"])
    response = decide(any_client, own["id"], people["mallory"])
    assert response.status_code == 403 and "never decides on their own run" in response.json["error"]
    others = deploy(any_client, people["dave"])
    response = decide(any_client, others["id"], people["mallory"])
    assert response.status_code == 403 and "mallory (developer) may not decide" in response.json["error"]
    # Not even a release manager approves their own run, and an admin the environment does not name may not.
    rita_run = deploy(any_client, people["rita"])
    assert decide(any_client, rita_run["id"], people["rita"]).status_code == 403
    assert decide(any_client, rita_run["id"], as_user("admin")).status_code == 403
    with session_scope() as session:
        assert session.scalars(select(RunApproval)).all() == []
        assert all(get_run(session, r["id"]).state == "awaiting_approval" for r in (own, others, rita_run))


def test_each_approver_counts_once(any_client, people):
    require_approvals(any_client)
    run = deploy(any_client, people["mallory"])
    assert decide(any_client, run["id"], people["rita"]).status_code == 200
    twice = decide(any_client, run["id"], people["rita"])
    assert twice.status_code == 409 and "rita already decided" in twice.json["error"]
    assert any_client.get(f"/api/v1/runs/{run['id']}").json["approvals_given"] == 1


def test_a_rejection_ends_the_run_and_needs_a_reason(any_client, people):
    require_approvals(any_client)
    run = deploy(any_client, people["mallory"])
    no_reason = decide(any_client, run["id"], people["rita"], "reject", comment="  ")
    assert no_reason.status_code == 400 and no_reason.json["field"] == "comment"
    rejected = decide(any_client, run["id"], people["rita"], "reject", comment="not on a Friday")
    assert rejected.status_code == 200
    assert (rejected.json["state"], rejected.json["terminal"]) == ("rejected", True)
    assert rejected.json["reason"] == "rejected by rita: not on a Friday"
    late = decide(any_client, run["id"], people["carol"])
    assert late.status_code == 409 and "it is rejected" in late.json["error"]


def test_a_canceled_or_expired_request_takes_no_decision(any_client, people):
    require_approvals(any_client)
    canceled = deploy(any_client, people["mallory"])
    response = any_client.post(f"/api/v1/runs/{canceled['id']}/cancel", headers=people["mallory"])
    assert response.status_code == 202 and response.json["state"] == "canceled"
    assert "while awaiting approval" in response.json["reason"]
    assert decide(any_client, canceled["id"], people["rita"]).status_code == 409

    waiting = deploy(any_client, people["mallory"])
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=2)
    assert approval_expiry.expire_requests(None, later) == [waiting["id"]]
    expired = any_client.get(f"/api/v1/runs/{waiting['id']}").json
    assert (expired["state"], expired["terminal"]) == ("expired", True)
    response = decide(any_client, waiting["id"], people["rita"])
    assert response.status_code == 409 and "it is expired" in response.json["error"]


def test_bad_decisions_are_4xx(any_client, people):
    require_approvals(any_client)
    run = deploy(any_client, people["mallory"])
    assert any_client.post("/api/v1/runs/999999/approve", json={}, headers=people["rita"]).status_code == 404
    too_long = decide(any_client, run["id"], people["rita"], comment="x" * 2001)
    assert too_long.status_code == 400 and too_long.json["field"] == "comment"
    wrong_type = any_client.post(f"/api/v1/runs/{run['id']}/approve", json={"comment": 5}, headers=people["rita"])
    assert wrong_type.status_code == 400
    unknown = any_client.post(f"/api/v1/runs/{run['id']}/approve", json={"as": "carol"}, headers=people["rita"])
    assert unknown.status_code == 400
    form = any_client.post(f"/api/v1/runs/{run['id']}/approve", data={"comment": "x"}, headers=people["rita"])
    assert form.status_code == 415
    no_token = any_client.post(f"/api/v1/runs/{run['id']}/approve", json={}, headers={"Authorization": "Bearer x"})
    assert no_token.status_code == 401
    # An approval with no body at all is an approval without a comment.
    assert any_client.post(f"/api/v1/runs/{run['id']}/approve", headers=people["rita"]).status_code == 200


def test_no_way_around_the_approval(any_client, people):
    require_approvals(any_client)
    patch = any_client.patch(ENV_URL, json={"approvals_required": 0}, headers=people["mallory"])
    assert patch.status_code == 403
    rejected = deploy(any_client, people["mallory"])
    decide(any_client, rejected["id"], people["rita"], "reject", comment="no")
    # A developer may not relaunch; a release manager's relaunch asks again.
    assert any_client.post(f"/api/v1/runs/{rejected['id']}/relaunch", headers=people["mallory"]).status_code == 403
    relaunched = any_client.post(f"/api/v1/runs/{rejected['id']}/relaunch", headers=people["rita"])
    assert relaunched.status_code == 201 and relaunched.json["state"] == "awaiting_approval"
    # A rollback asks again too, unless the environment says rollbacks skip approval.
    deployed = [_deployed(version) for version in ("1.0", "2.0")]
    rollback_url = "/api/v1/projects/sampleapp/environments/staging/rollback"
    rollback = any_client.post(rollback_url, headers=people["mallory"])
    assert rollback.status_code == 201, rollback.json
    assert (rollback.json["state"], rollback.json["rollback_of"]) == ("awaiting_approval", deployed[1])
    require_approvals(any_client, rollback_skips_approval=True)
    skipped = any_client.post(rollback_url, headers=people["mallory"])
    assert skipped.status_code == 201 and skipped.json["state"] == "queued"
    # ... but a plain deploy still waits.
    assert deploy(any_client, people["mallory"])["state"] == "awaiting_approval"


def _deployed(version: str) -> int:
    """A successful deploy of ``version`` to staging, recorded as a worker would (no approval asked)."""
    from playdeck.runs.requests import RunRequest, request_run
    from playdeck.runs.states import RunState
    from playdeck.runs.transitions import claim_run, finish_run

    with session_scope() as session:
        run_id = request_run(
            session, RunRequest(project="sampleapp", environment="staging", version=version, platform=True)
        ).id
    with session_scope() as session:
        assert claim_run(session, run_id, "testhost", 1)
    with session_scope() as session:
        assert finish_run(session, run_id, RunState.SUCCESSFUL, rc=0)
    return run_id


def test_a_run_awaiting_approval_holds_no_lock_and_shows_on_attention(any_client, people):
    require_approvals(any_client)
    run = deploy(any_client, people["mallory"])
    with session_scope() as session:
        assert session.scalars(select(DeployLock)).all() == []
    listed = any_client.get("/api/v1/attention").json["runs"]
    [item] = [item for item in listed if item["run"]["id"] == run["id"]]
    assert item["kind"] == "awaiting_approval"
    assert "2 more approvals" in item["why"] and "release_manager" in item["why"] and "carol" in item["why"]
    assert "not mallory" in item["why"]
    by_state = any_client.get("/api/v1/runs?state=awaiting_approval").json["runs"]
    assert [r["id"] for r in by_state] == [run["id"]]


def test_environment_settings_are_checked(any_client, people):
    bad = {
        "approvals_required": 4,
        "approver_roles": ["developer"],
        "approver_users": ["nobody-such"],
        "approval_timeout_seconds": 5,
        "rollback_skips_approval": "yes",
    }
    for field, value in bad.items():
        response = any_client.patch(ENV_URL, json={field: value})
        assert response.status_code == 400 and response.json["field"] == field, (field, response.json)
    nobody = any_client.patch(ENV_URL, json={"approvals_required": 1, "approver_roles": [], "approver_users": []})
    assert nobody.status_code == 400 and "nobody could approve" in nobody.json["error"]
    # The number alone: release managers and admins approve.
    alone = any_client.patch(ENV_URL, json={"approvals_required": 1})
    assert alone.status_code == 200 and alone.json["approver_roles"] == ["release_manager", "admin"]
    with session_scope() as session:
        audited = session.scalars(
            select(AuditEvent.details_json).where(AuditEvent.action == "environment.update")
        ).all()
    assert any('"approvals_required": 1' in details for details in audited)


def test_the_admin_project_page_sets_an_environments_approvals(app):
    from tests.conftest import make_user
    from tests.webui.account_testing import browser_as, post_form

    make_user("carol", "viewer")
    make_user("rita", "release_manager")
    admin = browser_as(app, "alice", "admin")
    page = "/admin/projects/sampleapp"
    action = f"{page}/environments/staging/approvals"
    form = {"approvals_required": "2", "approver_roles": "admin", "approver_users": "carol, rita",
            "approval_timeout_seconds": "7200", "rollback_skips_approval": "on"}  # fmt: skip
    assert post_form(admin, action, form, page=page).status_code == 303
    shown = admin.get(page).get_data(as_text=True)
    assert '<td class="approvals">2 from admin, carol, rita</td>' in shown
    with session_scope() as session:
        from playdeck.projects import get_environment, get_project

        env = get_environment(get_project(session, "sampleapp"), "staging")
        assert (env.approvals_required, env.approval_timeout_seconds, env.rollback_skips_approval) == (2, 7200, True)
    refused = post_form(admin, action, {**form, "approval_timeout_seconds": "soon"}, page=page)
    assert refused.status_code == 400 and "must be a whole number" in refused.get_data(as_text=True)


def test_each_step_is_notified_to_the_projects_webhooks(any_client, people):
    from playdeck.models import Project, Webhook, WebhookDelivery

    with session_scope() as session:
        project_id = session.scalar(select(Project.id).where(Project.name == "sampleapp"))
        session.add(Webhook(project_id=project_id, url="https://hooks.example.test/x", format="json",
                            events="approval_requested,approved,rejected,expired", secret_ciphertext=""))  # fmt: skip
    require_approvals(any_client, approvals_required=1)
    approved = deploy(any_client, people["mallory"])
    decide(any_client, approved["id"], people["rita"])
    rejected = deploy(any_client, people["mallory"])
    decide(any_client, rejected["id"], people["rita"], "reject", comment="no")
    expired = deploy(any_client, people["mallory"])
    approval_expiry.expire_requests(None, dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=2))
    with session_scope() as session:
        told = session.execute(select(WebhookDelivery.run_id, WebhookDelivery.event).order_by(WebhookDelivery.id)).all()
    assert [tuple(row) for row in told] == [
        (approved["id"], "approval_requested"), (approved["id"], "approved"),
        (rejected["id"], "approval_requested"), (rejected["id"], "rejected"),
        (expired["id"], "approval_requested"), (expired["id"], "expired"),
    ]  # fmt: skip
