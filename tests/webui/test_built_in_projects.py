"""The built-in dns project runs only when Playdeck starts it (issue #20): nobody deploys or relaunches it,
whatever their role, and no launch of any project sets the dns_* variables its playbook reloads BIND and
writes zone files with (dns_rndc is a program the worker executes). Its own regenerations, and their
automatic retries when a worker dies, still queue. Through the API and the pages; the CLI's refusal is in
tests/cli/test_cli_input.py."""

from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import select

from playdeck import db
from playdeck.dns import scheduling
from playdeck.models import Run
from playdeck.projects import DNS_PROJECT
from playdeck.runs.queries import get_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run
from playdeck.settings import Settings
from tests.conftest import request_regeneration, web_client
from tests.core.test_lost_retry import lose
from tests.dns.conftest import ZONE, make_zone
from tests.webui.webui_testing import RUN, run_count

ZONE_ENVIRONMENT = ZONE.rstrip(".")
BUILT_IN_ERROR = f"project '{DNS_PROJECT}' is built in"


def regeneration_run() -> int:
    """A zone's regeneration run, queued as a DNS change queues it."""
    make_zone()
    run_id = request_regeneration(ZONE)
    assert run_id is not None
    return run_id


def ended_regeneration_run() -> int:
    run_id = regeneration_run()
    with db.session_scope() as session:
        assert claim_run(session, run_id, "dns-1", 4242)
        assert finish_run(session, run_id, RunState.FAILED, rc=2, reason="rndc: connection refused")
    return run_id


@pytest.mark.parametrize("role", ["release_manager", "admin"])
@pytest.mark.parametrize(
    "extra_vars", [{}, {"dns_rndc": "/usr/bin/touch", "dns_zone_dir": "/etc"}], ids=["plain", "with-rndc"]
)
def test_nobody_deploys_the_dns_project_through_the_api(embedded: Settings, role: str, extra_vars: dict) -> None:
    regeneration_run()
    before = run_count()

    response = web_client("boss", role).post(
        "/api/v1/runs", json={"project": DNS_PROJECT, "environment": ZONE_ENVIRONMENT, "extra_vars": extra_vars}
    )

    assert response.status_code == 400, response.json
    assert response.json["field"] == "project"
    assert BUILT_IN_ERROR in response.json["error"]
    assert run_count() == before


def test_the_deploy_form_refuses_the_dns_project(embedded: Settings) -> None:
    regeneration_run()
    client = web_client("boss", "admin")
    before = run_count()

    page = client.get(f"/projects/{DNS_PROJECT}/deploy").get_data(as_text=True)
    response = client.post(f"/projects/{DNS_PROJECT}/deploy", data={"environment": ZONE_ENVIRONMENT})

    assert 'id="deploy-refused"' in page and "is built in" in page and '<form method="post" class="deploy"' not in page
    assert response.status_code == 400
    assert escape(BUILT_IN_ERROR) in response.get_data(as_text=True)
    assert run_count() == before
    dashboard = client.get("/").get_data(as_text=True)
    assert f"/projects/{DNS_PROJECT}/deploy" not in dashboard
    # Not listed among the apps at all ("never deployed" beside each zone): its runs are on the DNS pages.
    assert f'id="project-{DNS_PROJECT}"' not in dashboard and 'id="project-sampleapp"' in dashboard


def test_nobody_relaunches_a_regeneration_run(embedded: Settings) -> None:
    ended = ended_regeneration_run()
    client = web_client("oncall", "release_manager")
    before = run_count()

    api = client.post(f"/api/v1/runs/{ended}/relaunch")
    page = client.post(f"/runs/{ended}/relaunch", data={"hosts": "all", "confirm": "yes"})

    assert api.status_code == 400, api.json
    assert api.json["field"] == "project" and BUILT_IN_ERROR in api.json["error"]
    assert page.status_code == 400 and escape(BUILT_IN_ERROR) in page.get_data(as_text=True)
    assert run_count() == before
    assert 'id="relaunch"' not in client.get(f"/runs/{ended}").get_data(as_text=True)


@pytest.mark.parametrize("name", ["dns_rndc", "dns_zone_dir", "dns_zone", "dns_export_file"])
def test_no_launch_sets_a_dns_variable(embedded: Settings, name: str) -> None:
    response = web_client("oncall", "release_manager").post(
        "/api/v1/runs", json={**RUN, "extra_vars": {name: "/tmp/anything"}}
    )

    assert response.status_code == 400, response.json
    refusal = f"'{name}': names starting with dns_ are set by Playdeck only"
    # First of the refusals (the launch form's undeclared name follows in "errors").
    assert response.json["field"] == "extra_vars" and response.json["error"].startswith(f"extra_vars: {refusal}")
    assert response.json["errors"][0] == {"field": "extra_vars", "message": refusal}
    assert run_count() == 0


def test_a_lost_regeneration_is_still_retried_by_the_platform(embedded: Settings) -> None:
    first = regeneration_run()

    assert lose(first, embedded).lost == [first]

    with db.session_scope() as session:
        retry = session.scalar(select(Run).where(Run.relaunch_of_id == first))
        assert retry is not None, get_run(session, first).reason
        assert (retry.kind, retry.state, retry.retry_number) == ("dns", "queued", 1)
        assert retry.extra_vars == {scheduling.ZONE_VAR: ZONE}


def test_a_launcher_cannot_claim_to_be_the_platform(embedded: Settings) -> None:
    regeneration_run()
    before = run_count()

    response = web_client("boss", "admin").post(
        "/api/v1/runs", json={"project": DNS_PROJECT, "environment": ZONE_ENVIRONMENT, "platform": True}
    )

    assert response.status_code == 400, response.json
    assert response.json["field"] == "body" and "platform" in response.json["error"]
    assert run_count() == before
