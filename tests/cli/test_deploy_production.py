"""The whole pipeline in its production shape: gunicorn web, a Celery worker, MariaDB and Redis.

A deploy requested over HTTP (API and CLI) runs the sample project for real and every event the
playbook produced reaches the DB, the live stream and the CLI.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import requests

from playdeck import db
from playdeck.runs.events import events_after
from playdeck.runs.queries import get_run
from tests.cli.cli_support import playdeck
from tests.conftest import api_headers, as_user


def read_stream(url: str) -> list[tuple[str, dict, dt.datetime]]:
    """Every SSE message of a run's stream until ``end``: (event type, data, when it arrived)."""
    messages = []
    fields: dict[str, str] = {}
    with requests.get(url, headers=api_headers(), stream=True, timeout=(5, 120)) as response:
        assert response.status_code == 200
        for line in response.iter_lines(decode_unicode=True):
            if line:
                if not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
                continue
            if "data" in fields:
                arrived = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                messages.append((fields.get("event", "message"), json.loads(fields["data"]), arrived))
                if fields.get("event") == "end":
                    break
            fields = {}
    return messages


def test_deploy_through_the_api_streams_live_and_persists_every_event(production, production_web_api, start_worker):
    start_worker()
    response = requests.post(
        f"{production_web_api}/api/v1/runs",
        json={"project": "sampleapp", "environment": "staging", "version": "3.0.0", "extra_vars": {"keep_releases": 2}},
        headers=as_user("alice"),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["state"] == "queued" and created["requested_by"] == "alice"
    run_id = created["id"]

    messages = read_stream(f"{production_web_api}/api/v1/runs/{run_id}/stream")
    end = messages[-1][1]
    assert messages[-1][0] == "end" and end["state"] == "successful", end
    streamed = [data["counter"] for kind, data, _ in messages if kind == "run_event"]

    with db.session_scope() as session:
        run = get_run(session, run_id)
        stored = [event.counter for event in events_after(session, run_id, 0)]
        finished_at = run.finished_at
    # No gap, no duplicate: the stream delivered exactly what the DB holds, in order.
    assert streamed == stored and len(stored) == end["event_count"] > 20
    # Live, not replayed at the end: the first lines arrived while the playbook was still running.
    first_event_arrival = next(arrived for kind, _, arrived in messages if kind == "run_event")
    assert first_event_arrival < finished_at

    job_events = production.runs_dir / str(run_id) / "attempt-1" / "artifacts" / "artifacts" / "job_events"
    assert sorted(int(p.name.split("-")[0]) for p in job_events.glob("*.json")) == stored

    assert {s["host"]: s["failed"] for s in end["host_summaries"]} == {"web1": 0, "web2": 0}
    current = production.apps_dir / "sampleapp" / "staging" / "web1" / "current"
    assert (current / "VERSION").read_text().strip() == "3.0.0"

    # Cursor pagination through the events API returns the same events.
    paged, after = [], 0
    while True:
        page = requests.get(
            f"{production_web_api}/api/v1/runs/{run_id}/events",
            params={"after": after, "limit": 7},
            headers=api_headers(),
            timeout=10,
        ).json()
        paged += [event["counter"] for event in page["events"]]
        if not page["events"]:
            break
        after = page["next_after"]
    assert paged == stored

    listed = requests.get(
        f"{production_web_api}/api/v1/runs",
        params={"project": "sampleapp", "state": "successful"},
        headers=api_headers(),
        timeout=10,
    ).json()
    assert [r["id"] for r in listed["runs"]] == [run_id]


def test_deploy_through_the_cli_exits_by_the_runs_result(production, production_web_api, start_worker):
    start_worker()
    good = playdeck("deploy", "sampleapp", "--env", "staging", "--version", "3.1.0", "--wait", timeout=180)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "TASK [Point current at the new release]" in good.stdout
    assert "successful" in good.stdout
    assert Path(production.apps_dir / "sampleapp" / "staging" / "web2" / "current" / "VERSION").read_text() == "3.1.0\n"

    bad = playdeck(
        "deploy", "sampleapp", "--env", "staging", "--version", "3.2.0", "--wait",
        "--extra-vars", '{"sampleapp_fail_health": true}', timeout=180,
    )  # fmt: skip
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "failed" in bad.stdout
    listed = playdeck("runs", "--project", "sampleapp", "--state", "failed")
    assert listed.returncode == 0 and "3.2.0" in listed.stdout and "3.1.0" not in listed.stdout
