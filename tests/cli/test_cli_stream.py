"""`playdeck deploy --wait` when the stream breaks: it reconnects with Last-Event-ID and prints every
line exactly once.

A connection cut at a chosen event cannot be provoked reliably from the real web app, so a small real
HTTP server plays the API here, speaking the same SSE frames; the CLI under test is the real one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cli.cli_support import playdeck

RUN_ID = 7
EVENTS = [{"counter": n, "event": "runner_on_ok", "stdout": f"line {n}", "host": "web1"} for n in range(1, 6)]


def run_json(state: str) -> dict:
    summary = {"host": "web1", "ok": 5, "changed": 2, "failed": int(state != "successful")}
    return {
        "id": RUN_ID,
        "state": state,
        "terminal": True,
        "rc": 0,
        "duration_seconds": 1.5,
        "host_summaries": [summary],
    }


class ScriptedApi(ThreadingHTTPServer):
    """First stream connection: events 1-3, then the connection drops. Later ones resume after
    Last-Event-ID but, like a careless server, also repeat the event before it."""

    daemon_threads = True

    def __init__(self, final_state: str) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.final_state = final_state
        self.last_event_ids: list[str | None] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedApi

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.reply(201, {"id": RUN_ID, "state": "queued"})

    def do_GET(self) -> None:
        if self.path != f"/api/v1/runs/{RUN_ID}/stream":
            self.reply(404, {"error": "no such page"})
            return
        last_id = self.headers.get("Last-Event-ID")
        self.server.last_event_ids.append(last_id)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if last_id is None:
            self.send_events(EVENTS[:3])
            return  # closes the connection without the final event
        self.wfile.write(b": keep-alive\n\n")
        self.send_events([event for event in EVENTS if event["counter"] >= int(last_id)])
        self.wfile.write(b"event: state\ndata: " + json.dumps({"state": self.server.final_state}).encode() + b"\n\n")
        self.wfile.write(b"event: end\ndata: " + json.dumps(run_json(self.server.final_state)).encode() + b"\n\n")

    def send_events(self, events: list[dict]) -> None:
        for event in events:
            frame = f"id: {event['counter']}\r\nevent: run_event\r\ndata: {json.dumps(event)}\r\n\r\n"
            self.wfile.write(frame.encode())
            self.wfile.flush()

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(params=["successful", "failed"])
def scripted_api(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedApi]:
    server = ScriptedApi(final_state=request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PLAYDECK_URL", server.url)
    yield server
    server.shutdown()
    server.server_close()


def test_wait_resumes_after_a_dropped_stream_without_repeating_lines(scripted_api: ScriptedApi) -> None:
    result = playdeck("deploy", "sampleapp", "--env", "staging", "--wait", timeout=60)

    lines = result.stdout.splitlines()
    assert lines[0] == f"Run {RUN_ID} queued: {scripted_api.url}/runs/{RUN_ID}"
    assert [line for line in lines if line.startswith("line ")] == [f"line {n}" for n in range(1, 6)]
    assert scripted_api.last_event_ids == [None, "3"]
    assert f"Run {RUN_ID} {scripted_api.final_state} (rc 0, 1.5 s)" in lines
    assert lines[-2].split() == ["HOST", "OK", "CHANGED", "FAILED", "UNREACHABLE", "SKIPPED", "RESCUED", "IGNORED"]
    assert lines[-1].split()[0] == "web1"
    assert f"-- run {RUN_ID}: {scripted_api.final_state}" in result.stderr
    assert result.returncode == (0 if scripted_api.final_state == "successful" else 1)
