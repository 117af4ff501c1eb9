"""A small client of Playdeck's JSON API, used by the CLI.

The CLI goes through the API (not the DB) so that a run requested from a terminal is validated,
recorded and dispatched exactly like one from the UI. Requests carry the caller's API token
(``Authorization: Bearer``): the API records its user as who asked.
"""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import requests.auth

from playdeck.errors import PlaydeckError
from playdeck.settings import Settings

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
# The stream sends keep-alive comments while a run is quiet; this much silence means the connection is dead.
STREAM_READ_TIMEOUT = 60.0
# How long a followed run may stay unreachable (web restart, network blip) before the CLI gives up.
RECONNECT_FOR_SECONDS = 120.0
RECONNECT_DELAY = 1.0
# Where `playdeck up` leaves a token of the admin it creates on a fresh install, for this machine's CLI.
CLI_TOKEN_FILE = "cli-token"


class ApiError(PlaydeckError):
    """The API answered with an error (4xx or 5xx); ``message`` is its own explanation."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class ApiUnreachable(PlaydeckError):
    """No answer at all: nothing listens at the URL, the connection broke, or it timed out."""

    status_code = 503


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """Server-sent events from raw byte chunks, however the chunks cut the lines."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = ""
    event_type, data_lines, event_id = "", [], None
    for chunk in chunks:
        buffer += decoder.decode(chunk)
        *lines, buffer = buffer.split("\n")
        for raw_line in lines:
            line = raw_line.removesuffix("\r")
            if not line:
                if data_lines:
                    yield ServerSentEvent(event=event_type or "message", data="\n".join(data_lines), id=event_id)
                event_type, data_lines, event_id = "", [], None
                continue
            if line.startswith(":"):  # a comment: the server's keep-alive
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event_type = value
            elif name == "data":
                data_lines.append(value)
            elif name == "id":
                event_id = value


def cli_token_path(settings: Settings) -> Path:
    return settings.data_dir / CLI_TOKEN_FILE


def configured_token(settings: Settings) -> str:
    """PLAYDECK_TOKEN, else the token `playdeck up` wrote for its admin; "" when neither is there."""
    if settings.api_token:
        return settings.api_token
    try:
        return cli_token_path(settings).read_text().strip()
    except OSError:  # absent or unreadable: the API's 401 then says what to do
        return ""


class BearerToken(requests.auth.AuthBase):
    """The token as the session's auth, not a default header, which a ~/.netrc entry would replace."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class PlaydeckApi:
    def __init__(self, base_url: str, token: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        if token:
            self.http.auth = BearerToken(token)

    def run_page_url(self, run_id: int) -> str:
        return f"{self.base_url}/runs/{run_id}"

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{path}"
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        try:
            response = self.http.request(method, url, **kwargs)
        except requests.ConnectionError as exc:
            raise ApiUnreachable(
                f"cannot reach the Playdeck API at {self.base_url} ({_root_cause(exc)}); "
                "is it running (`playdeck up`), and is PLAYDECK_URL right?"
            ) from None
        except requests.RequestException as exc:
            raise ApiUnreachable(f"request to {url} failed: {_root_cause(exc)}") from None
        if response.status_code >= 400:
            raise ApiError(response.status_code, _error_message(response))
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ApiError(response.status_code, f"{response.url} answered with something that is not JSON") from None

    def create_run(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/api/v1/runs", json=request)

    def list_runs(self, filters: dict[str, Any]) -> dict[str, Any]:
        params = {name: value for name, value in filters.items() if value not in (None, "")}
        return self._json("GET", "/api/v1/runs", params=params)

    def cancel_run(self, run_id: int, force: bool = False) -> dict[str, Any]:
        params = {"force": "true"} if force else None
        return self._json("POST", f"/api/v1/runs/{run_id}/cancel", params=params)

    def relaunch_run(self, run_id: int, hosts: str) -> dict[str, Any]:
        """A new run with the parameters of ``run_id``; ``hosts`` "all", or "failed" for only those."""
        return self._json("POST", f"/api/v1/runs/{run_id}/relaunch", json={"hosts": hosts})

    def promote_run(self, run_id: int, to: str, freeze_override: str = "") -> dict[str, Any]:
        """A deploy of successful run ``run_id``'s commit and parameters to environment ``to``."""
        body = {"to": to, **({"freeze_override": freeze_override} if freeze_override else {})}
        return self._json("POST", f"/api/v1/runs/{run_id}/promote", json=body)

    def rollback(
        self, project: str, environment: str, to_run: int | None = None, freeze_override: str = ""
    ) -> dict[str, Any]:
        """A deploy of the commit before the current one in ``environment`` (or of run ``to_run``'s)."""
        path = f"/api/v1/projects/{quote(project, safe='')}/environments/{quote(environment, safe='')}/rollback"
        body = {name: value for name, value in (("to_run", to_run), ("freeze_override", freeze_override)) if value}
        return self._json("POST", path, json=body)

    def list_freeze_windows(self, project: str | None = None, environment: str | None = None) -> dict[str, Any]:
        params = {name: value for name, value in (("project", project), ("environment", environment)) if value}
        return self._json("GET", "/api/v1/freeze-windows", params=params)

    def create_freeze_window(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/api/v1/freeze-windows", json=fields)

    def delete_freeze_window(self, window_id: int) -> None:
        self._send("DELETE", f"/api/v1/freeze-windows/{window_id}")

    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/api/v1/schedules", json=body)

    def list_schedules(self, project: str | None = None) -> list[dict[str, Any]]:
        params = {"project": project} if project else None
        return self._json("GET", "/api/v1/schedules", params=params)["schedules"]

    def update_schedule(self, schedule_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self._json("PATCH", f"/api/v1/schedules/{schedule_id}", json=body)

    def delete_schedule(self, schedule_id: int) -> None:
        self._send("DELETE", f"/api/v1/schedules/{schedule_id}")

    def pipeline_run_page_url(self, pipeline_run_id: int) -> str:
        return f"{self.base_url}/pipeline-runs/{pipeline_run_id}"

    def list_pipelines(self, project: str | None = None) -> list[dict[str, Any]]:
        params = {"project": project} if project else None
        return self._json("GET", "/api/v1/pipelines", params=params)["pipelines"]

    def start_pipeline(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/api/v1/pipeline-runs", json=body)

    def list_pipeline_runs(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._json("GET", "/api/v1/pipeline-runs", params=params)["pipeline_runs"]

    def get_pipeline_run(self, pipeline_run_id: int) -> dict[str, Any]:
        return self._json("GET", f"/api/v1/pipeline-runs/{pipeline_run_id}")

    def pipeline_run_action(self, pipeline_run_id: int, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """``action``: cancel, resume ({"from"}) or decide ({"step", "approve"})."""
        return self._json("POST", f"/api/v1/pipeline-runs/{pipeline_run_id}/{action}", json=body)

    def decide(self, run_id: int, decision: str, comment: str) -> dict[str, Any]:
        """Approve or reject (``decision``) a run awaiting approval, with a comment."""
        return self._json("POST", f"/api/v1/runs/{run_id}/{decision}", json={"comment": comment})

    def get_run(self, run_id: int) -> dict[str, Any]:
        return self._json("GET", f"/api/v1/runs/{run_id}")

    def get_progress(self, run_id: int) -> dict[str, Any]:
        """Tasks done and expected (from the previous successful run), per host, and an ETA."""
        return self._json("GET", f"/api/v1/runs/{run_id}/progress")

    def follow_run(self, run_id: int) -> Iterator[ServerSentEvent]:
        """The run's stream until its final ``end`` event, reconnecting where it broke off.

        After a dropped connection the stream is reopened with ``Last-Event-ID`` so the server resumes
        after the last event received; events at or below that counter are dropped in case a server
        repeats them, so no output line is ever printed twice.
        """
        last_counter = 0
        unreachable_since: float | None = None
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_counter:
                headers["Last-Event-ID"] = str(last_counter)
            try:
                response = self._send(
                    "GET",
                    f"/api/v1/runs/{run_id}/stream",
                    headers=headers,
                    stream=True,
                    timeout=(CONNECT_TIMEOUT, STREAM_READ_TIMEOUT),
                )
                with response:
                    unreachable_since = None
                    # chunk_size=None: hand over each chunk as it arrives instead of waiting for a full buffer.
                    for sse in parse_sse(response.iter_content(chunk_size=None)):
                        if sse.event == "run_event":
                            counter = int(sse.id) if sse.id else int(sse.json().get("counter", 0))
                            if counter <= last_counter:
                                continue
                            last_counter = counter
                        yield sse
                        if sse.event == "end" and sse.json().get("terminal", True):
                            return
            except (ApiError, ApiUnreachable, requests.RequestException) as exc:
                # A 5xx is a web process restarting or a proxy without its backend: worth waiting for.
                # A 4xx (no such run) will not change by asking again.
                if isinstance(exc, ApiError) and exc.status_code < 500:
                    raise
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since > RECONNECT_FOR_SECONDS:
                    raise ApiUnreachable(
                        f"lost the stream of run {run_id} for over {RECONNECT_FOR_SECONDS:.0f} s: {_root_cause(exc)}"
                    ) from None
            # The stream ended without a final event, or broke: reopen it after a short pause.
            time.sleep(RECONNECT_DELAY)


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    text = " ".join(response.text.split())[:200]
    return f"HTTP {response.status_code} {response.reason}" + (f": {text}" if text else "")


def _root_cause(exc: BaseException) -> str:
    """The innermost reason ("Connection refused") instead of urllib3's nested wrapper text."""
    for _ in range(10):  # chains are short; the bound only guards against a cycle
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    reason = str(exc)
    # urllib3 prefixes the connection object's repr: keep what follows it.
    return reason.split(">: ", 1)[-1] if ">: " in reason else reason
