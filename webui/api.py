"""The JSON API, ``/api/v1``: projects, runs, run events and the live event stream."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import UnsupportedMediaType

from playdeck.auth.permissions import Action
from playdeck.db import connection_scope
from playdeck.errors import ValidationError
from playdeck.models import RunEvent
from playdeck.runs.events import EVENTS_PER_PAGE, MAX_EVENTS_PER_PAGE, events_after, events_before
from playdeck.runs.log_filters import LogFilter, parse_filter
from playdeck.runs.log_search import HITS_PER_PAGE, MAX_HITS_PER_PAGE, search
from playdeck.runs.queries import run_state
from playdeck.runs.states import is_terminal
from playdeck.serializers import event_log_sql
from playdeck.settings import get_settings
from webui import access, authorize, queries
from webui.created import created
from webui.json_rows import rendered_rows
from webui.live import live_stream, parse_runs
from webui.origin import require_same_origin
from webui.params import int_param
from webui.payloads import optional_json_body, parse_json_object, run_request_from_json
from webui.stream import run_event_stream

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_RUNS_PER_PAGE = 200
# Counters are 32-bit INTEGER columns.
MAX_COUNTER = 2**31 - 1


@bp.get("/projects")
@access.rule(Action.READ)
def list_projects() -> Response:
    """``?archived=true`` lists the archived projects too."""
    archived = request.args.get("archived", "false")
    if archived not in ("true", "false"):
        raise ValidationError("archived", "must be true or false")
    return jsonify(projects=queries.projects_json(include_archived=archived == "true"))


@bp.post("/runs")
@access.rule(Action.DEPLOY)
def create_run() -> tuple[Response, int]:
    # Requiring the JSON media type keeps a cross-site HTML form (text/plain) from starting a deploy.
    if not request.is_json:
        raise UnsupportedMediaType("send the run as a JSON object with Content-Type: application/json")
    run_request = run_request_from_json(parse_json_object(request.get_data(cache=False)), authorize.actor())
    authorize.require_deploy(run_request.project, run_request.environment)
    run = queries.submit(run_request)
    return created(run, "api.get_run_json", run_id=run["id"])


@bp.get("/runs")
@access.rule(Action.READ)
def list_runs() -> Response:
    per_page = int_param("per_page", request.args.get("per_page"), get_settings().runs_per_page, 1, MAX_RUNS_PER_PAGE)
    listing = queries.runs_listing(request.args, per_page)
    return rendered_rows("runs", listing.runs, page=listing.page, per_page=listing.per_page, has_next=listing.has_next)


@bp.get("/runs/<int:run_id>")
@access.rule(Action.READ)
def get_run_json(run_id: int) -> Response:
    return jsonify(queries.run_detail(run_id))


@bp.post("/runs/<int:run_id>/cancel")
@access.rule(Action.CANCEL)
def cancel_run(run_id: int) -> tuple[Response, int]:
    """202: a queued run is canceled at once, a running one is being stopped (``?force=true``: recorded
    canceled at once, for a run whose worker has vanished); 409 once it has ended."""
    force = request.args.get("force", "false")
    if force not in ("true", "false"):
        raise ValidationError("force", "must be true or false")
    authorize.require_cancel(run_id, force == "true")
    return jsonify(queries.cancel_run(run_id, authorize.actor(), force=force == "true")), 202


@bp.post("/runs/<int:run_id>/relaunch")
@access.rule(Action.RELAUNCH)
def relaunch_run(run_id: int) -> tuple[Response, int]:
    """201 with a new run of a finished one's parameters; body (optional) ``{"hosts": "all"|"failed"}``.

    409 while the run is queued or running, or for "failed" when no host failed or was unreachable.
    """
    # A relaunch starts a deploy: like create_run, refuse what a cross-site page can send. A form always
    # has a non-JSON Content-Type; a bodiless fetch() from another site still carries its Origin.
    require_same_origin("runs can only be relaunched from Playdeck's own pages or through the API")
    body = optional_json_body(("hosts",), '{"hosts": "all"|"failed"}')
    run = queries.relaunch_run(run_id, body.get("hosts", "all"), authorize.actor())
    return created(run, "api.get_run_json", run_id=run["id"])


@bp.post("/runs/<int:run_id>/promote")
@access.rule(Action.DEPLOY)
def promote_run(run_id: int) -> tuple[Response, int]:
    """201 with a deploy of a successful run's commit and parameters to another environment of its project;
    body ``{"to": "production", "freeze_override": "reason"}`` (the override optional). 409 for a run that is
    not a successful real deploy, when the target requires success elsewhere first, or inside a freeze window
    without an override; 403 for a caller who may not deploy to the target (or override a freeze)."""
    # A promotion starts a deploy: refuse what a cross-site page can send (as for a relaunch).
    require_same_origin("runs can only be promoted from Playdeck's own pages or through the API")
    body = optional_json_body(("to", "freeze_override"), '{"to": "ENVIRONMENT", "freeze_override": "REASON"}')
    override = body.get("freeze_override", "")
    run = queries.promote_run(run_id, body.get("to"), authorize.actor(), authorize.deploy_check(), override)
    return created(run, "api.get_run_json", run_id=run["id"])


def _log_filter(text: str | None = None) -> LogFilter:
    """``host`` and ``status`` (comma-separated ``log_filters.STATUSES``) from the query string."""
    return parse_filter(request.args.get("host"), request.args.get("status"), text)


def _cursor() -> tuple[int, int | None]:
    """``after`` (default 0) or ``before``, never both."""
    if "after" in request.args and "before" in request.args:
        raise ValidationError("before", "give either after or before, not both")
    after = int_param("after", request.args.get("after"), 0, 0, MAX_COUNTER)
    before = int_param("before", request.args.get("before"), 0, 0, MAX_COUNTER) if "before" in request.args else None
    return after, before


@bp.post("/runs/<int:run_id>/approve")
@access.rule(Action.APPROVE)
def approve_run(run_id: int) -> Response:
    """200 with the run: the approval is counted, and the last one needed queues the run. Body (optional)
    ``{"comment": "..."}``. 403 for the requester or someone the environment does not name, 409 for a run not
    awaiting approval (ended, canceled, expired) or already decided on by the caller."""
    return jsonify(_decide(run_id, "approve"))


@bp.post("/runs/<int:run_id>/reject")
@access.rule(Action.APPROVE)
def reject_run(run_id: int) -> Response:
    """200 with the run, ended ``rejected``. Body ``{"comment": "why"}`` (required). 403/409 as for approve."""
    return jsonify(_decide(run_id, "reject"))


def _decide(run_id: int, decision: str) -> dict:
    # A decision can start a deploy: like a relaunch, refuse what a cross-site page can send.
    require_same_origin("runs can only be approved or rejected from Playdeck's own pages or through the API")
    body = optional_json_body(("comment",), '{"comment": "..."}')
    return queries.decide(run_id, access.principal(), decision, body.get("comment", ""))


@bp.get("/runs/<int:run_id>/events")
@access.rule(Action.READ)
def list_events(run_id: int) -> Response:
    """A page of events after a counter; a client is done once ``terminal`` and the page is not full.

    ``before`` instead pages backwards: the ``limit`` events just below that counter (the run page
    shows a long log's tail first and loads earlier lines on demand). ``host`` and ``status`` keep only
    that host's events and those of these outcomes."""
    after, before = _cursor()
    limit = int_param("limit", request.args.get("limit"), EVENTS_PER_PAGE, 1, MAX_EVENTS_PER_PAGE)
    log_filter = _log_filter()
    # Each event as the JSON text the database rendered, with its counter for the next cursor.
    columns = (RunEvent.counter, event_log_sql())
    with connection_scope() as connection:
        # State first: if it is terminal, the events read next are complete (see webui.stream).
        state = run_state(connection, run_id)
        page = (
            events_after(connection, run_id, after, limit, columns, log_filter)
            if before is None
            else events_before(connection, run_id, before, limit, columns, log_filter)
        )
    return rendered_rows(
        "events",
        [event for _, event in page],
        next_after=page[-1].counter if page else after,
        run_state=state,
        terminal=is_terminal(state),
    )


@bp.get("/runs/<int:run_id>/events/search")
@access.rule(Action.READ)
def search_events(run_id: int) -> Response:
    """The run's lines holding ``q`` (literally, ignoring case), counted over the whole run, a page of them
    after ``after`` (or before ``before``) with a snippet each; ``host`` and ``status`` as for events."""
    text = request.args.get("q", "")
    if not text.strip():
        raise ValidationError("q", "give the text to search for")
    log_filter = _log_filter(text)
    after, before = _cursor()
    limit = int_param("limit", request.args.get("limit"), HITS_PER_PAGE, 1, MAX_HITS_PER_PAGE)
    with connection_scope() as connection:
        run_state(connection, run_id)  # 404 for an unknown run
        found = search(connection, run_id, log_filter, after, before, limit)
    return jsonify(query=text, **dataclasses.asdict(found))


@bp.get("/runs/<int:run_id>/progress")
@access.rule(Action.READ)
def get_progress(run_id: int) -> Response:
    """Tasks done per host of those the previous successful run did, and an ETA from its duration."""
    return jsonify(queries.progress(run_id))


@bp.get("/runs/<int:run_id>/stream")
@access.rule(Action.READ)
def stream_events(run_id: int) -> Response:
    # A reconnecting browser sends Last-Event-ID, which wins over the ``after`` it first asked for.
    header = request.headers.get("Last-Event-ID")
    name, value = ("Last-Event-ID", header) if header else ("after", request.args.get("after"))
    after = int_param(name, value, 0, 0, MAX_COUNTER)
    # Answer 404 now: once a stream has started, its status can no longer change.
    queries.run_detail(run_id)
    return _event_stream(run_event_stream(run_id, after))


@bp.get("/live")
@access.rule(Action.READ)
def live() -> Response:
    """One stream for a browser's tabs: ``runs=ID:AFTER,...`` (each run's events after its counter; an
    unknown run gets ``gone``) and ``overview=true`` (``overview`` whenever the lists of runs change)."""
    runs = parse_runs(request.args.get("runs", ""))
    overview = request.args.get("overview", "false")
    if overview not in ("true", "false"):
        raise ValidationError("overview", "must be true or false")
    if not runs and overview == "false":
        raise ValidationError("runs", "name at least one run, or ask for overview=true")
    return _event_stream(live_stream(runs, overview == "true"))


def _event_stream(body: Iterator[str]) -> Response:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(body, mimetype="text/event-stream", headers=headers)
