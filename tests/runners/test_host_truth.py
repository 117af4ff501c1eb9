"""What runs where, and why a run failed, from what real runs did: a real worker runs a playbook that switches
each host and reports it (tests/playbooks/switch_deploy.yml), and the pages, the API and the webhooks' payload
tell what each host runs after a cancel mid-deploy, a partial --limit deploy and a failure with a rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from playdeck import db, projects, webhooks
from playdeck.models import WebhookDelivery
from playdeck.runs.events import events_after
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from tests.cli.cli_support import wait_until
from tests.conftest import TERMINAL, api_headers, cancel_run, queue_run, wait_for_state, web_client
from tests.webhook_receiver import allow_loopback


@pytest.fixture
def switchy(test_playbooks, tmp_path: Path) -> Path:
    """Project "switchy": 3 local hosts in dev, 2 in two; each host's version is a file in the returned dir."""
    with db.session_scope() as session:
        projects.add_project(session, "switchy", "switch_deploy.yml", {"dev": "local3.ini", "two": "local2.ini"})
    state_dir = tmp_path / "hosts"
    state_dir.mkdir()
    return state_dir


def deploy(state_dir: Path, version: str, environment: str = "dev", **extra) -> int:
    limit = extra.pop("limit", "")
    request = RunRequest(
        project="switchy",
        environment=environment,
        version=version,
        limit=limit,
        extra_vars={"state_dir": str(state_dir), **extra},
    )
    return queue_run(request).id


def deployed(state_dir: Path, version: str, **extra) -> int:
    run_id = deploy(state_dir, version, **extra)
    assert wait_for_state(run_id, TERMINAL) == "successful"
    return run_id


def dashboard_row(environment: str) -> str:
    html = web_client().get("/").get_data(as_text=True)
    start = html.index(f'data-environment="{environment}"')
    return html[start : html.index("</tr>", start)]


def environment_hosts(environment: str) -> dict[str, str]:
    answer = web_client().get(f"/api/v1/projects/switchy/environments/{environment}", headers=api_headers())
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {host["host"]: host["version"] for host in answer.json["hosts"]["hosts"]}


def test_a_deploy_canceled_after_its_switch_shows_the_new_version_per_host(switchy, start_worker, tmp_path):
    start_worker()
    deployed(switchy, "4.1.0", environment="two")
    assert "4.1.0 on 2 hosts" in dashboard_row("two")

    run_id = deploy(switchy, "5.0.0", environment="two", release_file=str(tmp_path / "never"))

    def cleaning_up() -> bool:
        with db.session_scope() as session:
            rows = events_after(session, run_id, 0)
        return {row.host for row in rows if row.task == "Clean up old releases" and row.host} == {"host1", "host2"}

    wait_until(cleaning_up, 90, "both hosts in the cleanup, after their switch")
    cancel_run(run_id, "release-manager")
    assert wait_for_state(run_id, TERMINAL, timeout=60) == "canceled"

    # The hosts did switch before the cancel: the dashboard, the API and the run page say so.
    assert (switchy / "host1").read_text() == (switchy / "host2").read_text() == "5.0.0"
    assert "5.0.0 on 2 hosts" in dashboard_row("two")
    assert environment_hosts("two") == {"host1": "5.0.0", "host2": "5.0.0"}
    with db.session_scope() as session:
        run = get_run(session, run_id)
        # The recap of a run stopped before ansible's own recap, from its events.
        assert sorted(summary.host for summary in run.host_summaries) == ["host1", "host2"]
        assert all(summary.ok >= 3 and summary.deployed_version == "5.0.0" for summary in run.host_summaries)
    page = web_client().get(f"/runs/{run_id}").get_data(as_text=True)
    assert "Changed hosts:" in page and "host1 → 5.0.0" in page and "host2 → 5.0.0" in page
    assert 'id="failure-summary"' in page and "Stopped during" in page and "Clean up old releases" in page
    api = web_client().get(f"/api/v1/runs/{run_id}", headers=api_headers()).json
    assert api["failure_summary"]["state"] == "canceled"
    assert api["failure_summary"]["stopped_in"]["task"] == "Clean up old releases"
    assert sorted(host["host"] for host in api["deployed_hosts"]) == ["host1", "host2"]


def test_a_partial_deploy_shows_the_hosts_on_each_version(switchy, start_worker):
    start_worker()
    deployed(switchy, "4.1.0")
    deployed(switchy, "5.0.0", limit="host2")

    assert environment_hosts("dev") == {"host1": "4.1.0", "host2": "5.0.0", "host3": "4.1.0"}
    row = dashboard_row("dev")
    assert "4.1.0 on 2 hosts, 5.0.0 on 1" in row
    assert 'data-host="host2"' in row
    project_page = web_client().get("/projects/switchy").get_data(as_text=True)
    assert "4.1.0 on 2 hosts, 5.0.0 on 1" in project_page
    history = web_client().get("/api/v1/projects/switchy/environments/dev/deployments", headers=api_headers())
    assert history.json["hosts"]["summary"] == "4.1.0 on 2 hosts, 5.0.0 on 1"


def test_a_failure_with_a_rollback_is_summarised_on_the_page_in_the_api_and_in_webhooks(
    switchy, start_worker, monkeypatch
):
    allow_loopback(monkeypatch)
    with db.session_scope() as session:
        webhooks.create_webhook(session, "switchy", "http://127.0.0.1:9/hook", events=["failed"], who="tests")
    start_worker()
    deployed(switchy, "2.1.0")
    run_id = deploy(switchy, "3.0.0", fail_hosts=["host2"])
    assert wait_for_state(run_id, TERMINAL) == "failed"

    # host2 was switched, failed its health check and was switched back: it runs 2.1.0 again.
    assert (switchy / "host2").read_text() == "2.1.0"
    assert environment_hosts("dev") == {"host1": "3.0.0", "host2": "2.1.0", "host3": "3.0.0"}
    assert "3.0.0 on 2 hosts, 2.1.0 on 1" in dashboard_row("dev")

    summary = web_client().get(f"/api/v1/runs/{run_id}", headers=api_headers()).json["failure_summary"]
    assert summary["failed_hosts"] == ["host2"]
    (host,) = summary["hosts"]
    assert host["failure"]["task"] == "Check health"
    assert host["failure"]["message"] == "health check failed on host2"
    assert host["final"]["task"] == "Fail the deploy of this host"
    assert host["final"]["message"] == "3.0.0 failed on host2; current is back on 2.1.0"
    with db.session_scope() as session:
        failing = {row.counter: row for row in events_after(session, run_id, 0) if row.event == "runner_on_failed"}
    assert failing[host["failure"]["counter"]].task == "Check health"
    assert failing[host["final"]["counter"]].task == "Fail the deploy of this host"

    page = web_client().get(f"/runs/{run_id}").get_data(as_text=True)
    assert page.index('id="failure-summary"') < page.index('class="facts"')
    assert f'href="#event-{host["failure"]["counter"]}"' in page
    assert "current is back on 2.1.0" in page
    assert "Changed hosts:" in page and "host1 → 3.0.0" in page and "host2 → 2.1.0" in page

    with db.session_scope() as session:
        (payload,) = session.scalars(select(WebhookDelivery.payload).where(WebhookDelivery.run_id == run_id))
    sent = json.loads(payload)["run"]["failure_summary"]
    assert sent == summary


def test_a_playbook_reporting_nothing_counts_its_hosts_only_after_a_whole_successful_run(test_projects, start_worker):
    start_worker()
    good = queue_run(RunRequest(project="marker", environment="dev", version="7.0")).id
    assert wait_for_state(good, TERMINAL) == "successful"
    broken = queue_run(RunRequest(project="partial", environment="dev", version="8.0")).id
    assert wait_for_state(broken, TERMINAL) == "failed"
    tagged = queue_run(RunRequest(project="marker", environment="dev", version="9.0", tags=["nothing"])).id
    assert wait_for_state(tagged, TERMINAL) == "successful"

    answer = web_client().get("/api/v1/projects/marker/environments/dev", headers=api_headers()).json
    assert {host["host"]: host["version"] for host in answer["hosts"]["hosts"]} == {"host1": "7.0", "host2": "7.0"}
    # A failed run that reported no switch changes nothing: nobody knows how far it got.
    partial = web_client().get("/api/v1/projects/partial/environments/dev", headers=api_headers()).json
    assert partial["hosts"]["hosts"] == []
