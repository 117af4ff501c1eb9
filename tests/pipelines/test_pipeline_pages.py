"""The pipeline run page: the strip of steps with their state and run links, linked from a step run's page; and
a project's pipelines page."""

from __future__ import annotations

import re

import pytest

from tests.conftest import web_client
from tests.pipelines.helpers import RELEASE_STEPS


@pytest.fixture
def client(embedded):
    return web_client()


def test_the_strip_shows_each_step_and_the_step_runs_page_links_back(client):
    assert (
        client.post(
            "/api/v1/pipelines", json={"project": "sampleapp", "name": "release", "steps": RELEASE_STEPS}
        ).status_code
        == 201
    )
    started = client.post(
        "/api/v1/pipeline-runs", json={"project": "sampleapp", "pipeline": "release", "version": "2.0.0"}
    ).json
    staging_run = started["steps"][0]["run_id"]
    page = client.get(f"/pipeline-runs/{started['id']}").get_data(as_text=True)
    steps = re.findall(r'id="step-([a-z]+)"', page)
    assert steps == ["staging", "smoke", "production"]
    staging = re.search(r'id="step-staging"(.*?)</li>', page, re.S).group(1)
    assert 'class="badge state-running"' in staging and f'href="/runs/{staging_run}"' in staging
    assert 'class="badge state-pending"' in re.search(r'id="step-production"(.*?)</li>', page, re.S).group(1)
    assert 'src="/static/pipeline_run.js"' in page
    run_page = client.get(f"/runs/{staging_run}").get_data(as_text=True)
    assert f'href="/pipeline-runs/{started["id"]}"' in run_page
    listing = client.get("/projects/sampleapp/pipelines").get_data(as_text=True)
    assert f'href="/pipeline-runs/{started["id"]}"' in listing and "staging <span" in listing
    assert client.get("/pipeline-runs/999999").status_code == 404
    assert 'href="/projects/sampleapp/pipelines"' in client.get("/projects/sampleapp").get_data(as_text=True)
