"""The project page: its runs and its delivery charts (the DORA measures), drawn as inline SVG."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from playdeck.runs.states import RunState
from tests.webui.webui_testing import RunDriver


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_project_page_shows_runs_and_four_charts(client: FlaskClient, runs: RunDriver) -> None:
    succeeded = runs.complete(client, events=1, version="1.0.0")
    failed = runs.create(client, version="1.0.1")
    runs.start(failed)
    runs.finish(failed, RunState.FAILED, rc=2)

    page = client.get("/projects/sampleapp")
    text = _text(page)

    assert page.status_code == 200
    assert f'data-run-id="{succeeded}"' in text and f'data-run-id="{failed}"' in text
    assert len(re.findall(r'<svg viewBox="[^"]+" role="img"', text)) == 4
    # One bar per day of the window, each with its tooltip.
    assert text.count('<g class="bar">') == 4 * 30
    summary = re.search(r'id="metrics-summary">(.*?)</dl>', text, re.S).group(1)
    assert "1 successful" in summary and "50 %" in summary and "1 failed" in summary
    assert "1 successful, 1 failed" in text  # the deploys chart's summary
    assert 'rect class="stacked"' in text  # the failure drawn on top of the day's deploys


def test_project_page_windows_and_environment_filter(client: FlaskClient, runs: RunDriver) -> None:
    runs.complete(client, events=1)  # staging

    ninety = _text(client.get("/projects/sampleapp?days=90"))
    production = _text(client.get("/projects/sampleapp?environment=production"))

    assert ninety.count('<g class="bar">') == 4 * 90 and "Delivery over the last 90 days" in ninety
    assert "0 successful" in re.search(r'id="metrics-summary">(.*?)</dl>', production, re.S).group(1)
    assert "<option selected>production</option>" in production


def test_project_page_refuses_what_it_cannot_show(client: FlaskClient) -> None:
    bad_window = client.get("/projects/sampleapp?days=7")
    assert bad_window.status_code == 400 and "must be one of 30, 90" in _text(bad_window)
    assert client.get("/projects/sampleapp?environment=nowhere").status_code == 404
    assert client.get("/projects/nothing").status_code == 404


def test_dashboard_links_each_project_page(client: FlaskClient) -> None:
    assert 'href="/projects/sampleapp">sampleapp</a>' in _text(client.get("/"))
