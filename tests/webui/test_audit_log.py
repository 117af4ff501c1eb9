"""Through the web, a mutation is audited as the logged-in caller from their address, in the change's
transaction; admins browse and filter the log (page and API), in pages of the newest first."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import as_user, web_client

RUNS = "/api/v1/runs"
AUDIT = "/api/v1/audit"


def test_a_deploy_and_a_cancel_are_audited_as_the_caller_from_their_address(embedded):
    client = web_client()
    alice = as_user("alice", "release_manager")
    made = client.post(RUNS, json={"project": "sampleapp", "environment": "staging"}, headers=alice)
    assert made.status_code == 201
    run_id = str(made.json["id"])
    bob = as_user("bob", "release_manager")
    assert client.post(f"{RUNS}/{run_id}/cancel", headers=bob).status_code == 202
    refused = client.post(RUNS, json={"project": "sampleapp", "environment": "nosuch"}, headers=alice)
    assert refused.status_code == 404  # refused: nothing to audit

    events = client.get(f"{AUDIT}?target_type=run").json["events"]
    assert [(e["actor"], e["action"], e["target"], e["address"]) for e in events] == [
        ("bob", "run.cancel", run_id, "127.0.0.1"),
        ("alice", "run.request", run_id, "127.0.0.1"),
    ]
    assert events[1]["details"]["environment"] == "staging"


def test_admins_page_through_and_filter_the_log(embedded):
    client: FlaskClient = web_client()
    alice = as_user("alice", "release_manager")
    for _ in range(3):
        client.post(RUNS, json={"project": "sampleapp", "environment": "staging"}, headers=alice)
    first = client.get(f"{AUDIT}?actor=alice&limit=2").json
    assert len(first["events"]) == 2 and first["next"]
    rest = client.get(first["next"]).json
    assert len(rest["events"]) == 1 and rest["next"] is None
    assert {e["action"] for e in first["events"] + rest["events"]} == {"run.request"}
    assert client.get(f"{AUDIT}?action=run.").json["events"][0]["actor"] == "alice"
    assert client.get(f"{AUDIT}?limit=0").status_code == 400

    page = client.get("/audit?actor=alice")
    assert page.status_code == 200 and page.get_data(as_text=True).count("run.request") == 3
    assert client.get(AUDIT, headers=as_user("vic", "viewer")).status_code == 403
