"""Fault matrix #8: the web process restarted while a client streams a run. The client reconnects with
Last-Event-ID and ends up with every event exactly once — real supervisord, gunicorn, worker, MariaDB
and Redis."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from playdeck import db, projects
from playdeck.cli.apiclient import parse_sse
from playdeck.runs.events import events_after
from playdeck.runs.requests import RunRequest
from testing import fault_report
from tests.cli.cli_support import SupervisedPlaydeck
from tests.conftest import api_headers, queue_run, wait_for_state


@pytest.fixture
def chatty(test_playbooks):
    with db.session_scope() as session:
        projects.add_project(session, "chatty", "chatty.yml", {"dev": "local2.ini"})


class ReconnectingReader(threading.Thread):
    """A plain SSE client: on a broken connection it reconnects with the last id it saw. It keeps every
    event it is sent, duplicates included, so the test can see any."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.counters: list[int] = []
        self.connections = 0
        self.end: dict | None = None
        self.credentials = api_headers()

    def run(self) -> None:
        deadline = time.monotonic() + 180
        while self.end is None and time.monotonic() < deadline:
            resume = {"Last-Event-ID": str(self.counters[-1])} if self.counters else {}
            headers = {**self.credentials, **resume}
            try:
                with requests.get(self.url, headers=headers, stream=True, timeout=(2, 30)) as response:
                    if response.status_code != 200:
                        time.sleep(0.3)
                        continue
                    self.connections += 1
                    for message in parse_sse(response.iter_content(chunk_size=None)):
                        if message.event == "run_event":
                            self.counters.append(int(message.id))
                        elif message.event == "end":
                            self.end = message.json()
                            return
            except requests.RequestException:
                time.sleep(0.3)  # the web is restarting


def test_stream_resumes_after_a_web_restart_without_gap_or_duplicate(chatty, playdeck_up: SupervisedPlaydeck):
    request = RunRequest(project="chatty", environment="dev", extra_vars={"ticks": 60, "tick_seconds": 0.25})
    run_id = queue_run(request).id
    reader = ReconnectingReader(f"{playdeck_up.url}/api/v1/runs/{run_id}/stream")
    reader.start()
    deadline = time.monotonic() + 60
    while len(reader.counters) < 10 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reader.counters, "the stream delivered nothing before the restart"

    playdeck_up.rpc.supervisor.stopProcess("playdeck-web")
    playdeck_up.rpc.supervisor.startProcess("playdeck-web")
    reader.join(timeout=180)

    assert reader.end is not None and reader.end["state"] == "successful"
    assert reader.connections >= 2  # it really was cut off and came back
    assert wait_for_state(run_id, {"successful"}) == "successful"
    with db.session_scope() as session:
        stored = [event.counter for event in events_after(session, run_id, 0, limit=1000)]
    assert reader.counters == stored  # every event, once, in order
    fault_report.record(8, [run_id])
