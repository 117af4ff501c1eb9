"""The HTML pages as a person sees them: dashboard, deploy form, run list, run page and raw log."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from markupsafe import escape

from playdeck.settings import Settings, get_settings
from tests.conftest import free_extra_vars
from tests.webui.webui_testing import RunDriver, broker_messages, run_count

DEPLOY_URL = "/projects/sampleapp/deploy"
GOOD_FORM = {
    "environment": "staging",
    "version": "2.0.1",
    "extra_vars": "greeting: hello\nworkers: 3\n",
    "limit": "web1",
    "tags": "app, config",
    "check": "1",
}


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_dashboard_shows_each_environment_and_its_latest_run(client: FlaskClient, runs: RunDriver) -> None:
    before = _text(client.get("/"))
    assert before.count("never deployed") == 2

    runs.complete(client, events=1, version="0.9.0")
    latest = runs.create(client, version="1.0.0")
    page = client.get("/")

    assert page.status_code == 200
    staging = re.search(r'data-environment="staging">(.*?)</tr>', _text(page), re.S).group(1)
    assert f"#{latest}" in staging
    # Deployed: the last successful run's version; the queued one is the latest run.
    deployed = re.search(r'class="deployed">(.*?)</td>', staging, re.S).group(1)
    latest_cell = re.search(r'class="latest">(.*?)</td>', staging, re.S).group(1)
    assert "0.9.0" in deployed and "1.0.0" not in deployed
    assert "1.0.0" in latest_cell
    assert 'class="badge state-queued"' in staging
    assert "s ago" in staging
    assert _text(page).count("never deployed") == 1
    assert f'href="{DEPLOY_URL}?environment=production"' in _text(page)


def test_deploy_form_lists_environments_and_preselects_one(client: FlaskClient) -> None:
    page = client.get(f"{DEPLOY_URL}?environment=production")
    assert page.status_code == 200
    assert re.search(r'<option value="production" selected[^>]*>\s*production \(protected\)', _text(page))
    assert '<option value="staging"' in _text(page)
    # The requester is the login: shown, not a field to fill in.
    assert 'name="requested_by"' not in _text(page) and "Requested by admin" in _text(page)


def test_deploying_from_the_form_queues_a_run_and_shows_it(client: FlaskClient, embedded: Settings) -> None:
    free_extra_vars()
    response = client.post(DEPLOY_URL, data=GOOD_FORM)

    assert response.status_code == 303
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert response.headers["Location"] == f"/runs/{run_id}"
    run = client.get(f"/api/v1/runs/{run_id}").json
    assert run["extra_vars"] == {"greeting": "hello", "workers": 3}
    assert (run["tags"], run["limit"], run["check"], run["requested_by"]) == (["app", "config"], "web1", True, "admin")
    assert broker_messages(embedded) == [("playdeck.execute_run", [run_id])]
    assert client.get(response.headers["Location"]).status_code == 200


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"extra_vars": "- just\n- a list\n"}, "Extra variables: must be a mapping"),
        ({"extra_vars": "{broken: [json"}, "Extra variables: line 1: a '[' list is not closed"),
        ({"extra_vars": "<b>: 1"}, "is not a valid Ansible variable name"),
        ({"extra_vars": "x: " + "[" * 500 + "]" * 500}, "Extra variables: is nested more than 20 levels deep"),
        ({"limit": "@deploy.yml"}, "Limit: must be an Ansible host pattern"),
        ({"limit": "web1; reboot"}, "Limit: must be an Ansible host pattern"),
        ({"tags": "app, $(id)"}, "is not a valid tag"),
        ({"version": "two words"}, "Version: must be"),
        ({"environment": "qa"}, "has no environment 'qa'"),
    ],
)
def test_a_bad_form_is_shown_again_with_the_error_and_the_input(
    client: FlaskClient, changes: dict[str, str], message: str
) -> None:
    free_extra_vars()
    form = {**GOOD_FORM, **changes}
    response = client.post(DEPLOY_URL, data=form)

    assert response.status_code == 400
    page = _text(response)
    assert 'role="alert"' in page and escape(message) in page
    assert escape(form["extra_vars"]) in page
    assert f'value="{escape(form["limit"])}"' in page
    assert f'value="{escape(form["tags"])}"' in page
    assert 'name="check" value="1" checked' in page
    assert run_count() == 0


def test_a_form_posted_from_another_site_is_refused(client: FlaskClient) -> None:
    free_extra_vars()
    response = client.post(DEPLOY_URL, data=GOOD_FORM, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert run_count() == 0
    same_site = client.post(DEPLOY_URL, data=GOOD_FORM, headers={"Origin": "http://localhost"})
    assert same_site.status_code == 303


def test_deploying_an_unknown_project_is_a_404_page(client: FlaskClient) -> None:
    response = client.get("/projects/nope/deploy")
    assert response.status_code == 404
    assert "project &#39;nope&#39; does not exist" in _text(response)


def test_run_list_filters_and_pages(monkeypatch: pytest.MonkeyPatch, client: FlaskClient, runs: RunDriver) -> None:
    monkeypatch.setenv("PLAYDECK_RUNS_PER_PAGE", "2")
    get_settings.cache_clear()
    staging = [runs.create(client) for _ in range(3)]
    production = runs.create(client, environment="production")

    def listed(query: str) -> list[int]:
        response = client.get(f"/runs?{query}")
        assert response.status_code == 200
        return [int(n) for n in re.findall(r'<tr class="run" data-run-id="(\d+)"', _text(response))]

    assert listed("") == [production, staging[2]]
    assert listed("page=2") == [staging[1], staging[0]]
    assert listed("environment=staging") == [staging[2], staging[1]]
    assert listed("environment=staging&page=2") == [staging[0]]
    first = _text(client.get("/runs?environment=staging"))
    assert 'rel="next" href="/runs?environment=staging&amp;page=2"' in first
    assert 'rel="prev"' not in first
    assert 'rel="prev" href="/runs?environment=staging&amp;page=1"' in _text(
        client.get("/runs?environment=staging&page=2")
    )


def test_a_run_listed_before_shows_its_new_state_and_duration(client: FlaskClient, runs: RunDriver) -> None:
    """Rows are rendered once per version of their run (webui.run_rows): a run that moved on is never
    shown as it was."""

    def row(run_id: int) -> str:
        page = _text(client.get("/runs"))
        return re.search(rf'<tr class="run" data-run-id="{run_id}">(.*?)</tr>', page, re.S).group(1)

    run_id = runs.create(client, version="3.1.4")
    assert "state-queued" in row(run_id)
    assert re.search(r"<td>3\.1\.4</td>", row(run_id))
    runs.start(run_id)
    assert "state-running" in row(run_id)
    runs.finish(run_id)
    finished = row(run_id)
    assert "state-successful" in finished and "state-running" not in finished
    assert re.search(r"<td>\d+\.\d s</td>\s*$", finished)  # its duration, once it has one
    assert re.search(r'<td title="\d{4}-\d\d-\d\d [\d:]+ UTC">\d+ s ago</td>', finished)


def test_run_list_with_a_bad_filter_explains_it(client: FlaskClient) -> None:
    response = client.get("/runs?since=last+tuesday")
    assert response.status_code == 400
    assert "since: &#39;last tuesday&#39; is not an ISO 8601 date or time" in _text(response)
    assert 'value="last tuesday"' in _text(response)


def test_a_finished_run_page_shows_its_facts_and_host_summary(client: FlaskClient, runs: RunDriver) -> None:
    free_extra_vars()
    run_id = runs.complete(client, events=3, extra_vars={"note": "<script>alert(1)</script>"})
    page = _text(client.get(f"/runs/{run_id}"))

    assert 'id="state-badge">successful<' in page
    assert '<dd data-field="worker_host">testhost</dd>' in page
    assert '<dd data-field="rc">0</dd>' in page
    summary = re.search(r'<table class="host-summary" id="host-summary">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr>\s*<td class=\"host\">(\w+)</td>(.*?)</tr>", summary, re.S)
    counts = {host: re.findall(r">(\d+)</td>", cells) for host, cells in rows}
    # Columns: ok, changed, failed, unreachable, skipped, rescued, ignored.
    assert counts == {"web1": ["3", "1", "0", "0", "0", "0", "0"], "web2": ["2", "0", "1", "0", "0", "0", "0"]}
    assert f'href="/runs/{run_id}/log.txt"' in page
    assert f'data-run-id="{run_id}"' in page and 'data-live-url="/api/v1/live"' in page
    # User data is escaped, never markup.
    assert "<script>alert(1)</script>" not in page


def test_a_live_run_page_waits_for_the_host_summary(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.create(client)
    page = _text(client.get(f"/runs/{run_id}"))
    assert 'id="state-badge">queued<' in page
    assert 'id="host-summary" hidden' in page
    assert "Shown when the run ends." in page


def test_an_unknown_run_page_is_a_404_page(client: FlaskClient) -> None:
    response = client.get("/runs/424242")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "run 424242 does not exist" in _text(response)
    assert "Traceback" not in _text(response)


def test_the_raw_log_is_every_line_in_order(client: FlaskClient, runs: RunDriver) -> None:
    run_id = runs.complete(client, events=2500)
    response = client.get(f"/runs/{run_id}/log.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert _text(response).splitlines() == [f"line {n}" for n in range(1, 2501)]
    assert client.get("/runs/999/log.txt").status_code == 404


def test_static_assets_are_served_without_a_build_step(client: FlaskClient) -> None:
    script = _text(client.get("/static/run.js"))
    assert "playdeckLive.watchRun" in script
    assert "innerHTML" not in script
    # The browser's one shared stream: a SharedWorker, which holds the EventSource through the hub.
    assert "new SharedWorker" in _text(client.get("/static/live.js"))
    assert "new EventSource" in _text(client.get("/static/live-hub.js"))
    assert "importScripts" in _text(client.get("/static/live-worker.js"))
    # The log's own script inserts what the server sends as text too.
    log_view = _text(client.get("/static/log_view.js"))
    assert "PlaydeckLog" in log_view and "innerHTML" not in log_view
    assert client.get("/static/style.css").status_code == 200
