"""JSON request bodies: read and shape-checked (an object with known keys), and the one of
``POST /api/v1/runs`` turned into a RunRequest. Values are validated by the services, which are the one
place that knows what a valid run, user or webhook is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from playdeck import inputs
from playdeck.errors import ValidationError
from playdeck.runs.requests import RunRequest
from webui.authorize import refuse_actor_fields

RUN_FIELDS = ("project", "environment", "version", "ref", "extra_vars", "limit", "tags", "check", "freeze_override")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    # RecursionError: a deeply nested document must be a 400, not a crash of the worker.
    except (ValueError, RecursionError):
        raise ValidationError("body", "is not valid JSON") from None
    if not isinstance(body, dict):
        raise ValidationError("body", f"must be a JSON object, got {type(body).__name__}")
    for key, value in body.items():
        # Depth and text (playdeck.inputs); an error names the field it is in, or the body for a bad name.
        inputs.check_value(value, inputs.check_text(key, "body"), inputs.MAX_DEPTH - 1)
    return body


def refuse_unknown(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError("body", f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def json_request_body(allowed: Iterable[str] | None = None) -> dict[str, Any]:
    """The request's JSON object; with ``allowed``, a field outside it is refused."""
    # Requiring the JSON media type keeps a cross-site HTML form (which cannot send it) from writing.
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON object with Content-Type: application/json")
    body = parse_json_object(request.get_data(cache=False))
    if allowed is not None:
        refuse_unknown(body, allowed)
    return body


def optional_json_body(allowed: Iterable[str], example: str) -> dict[str, Any]:
    """The body of a POST whose body is optional (a relaunch, a rollback): none, or a JSON object of ``allowed``
    fields that names no requester. ``example`` shows the caller what to send in the 415 answer."""
    raw = request.get_data(cache=False)
    # A form always has a non-JSON Content-Type: a cross-site page cannot send a JSON body.
    if (raw or request.mimetype) and not request.is_json:
        raise UnsupportedMediaType(f"send {example} with Content-Type: application/json, or no body")
    body = parse_json_object(raw) if raw else {}
    refuse_actor_fields(body, "requested_by")
    refuse_unknown(body, allowed)
    return body


def run_request_from_json(body: dict[str, Any], requested_by: str) -> RunRequest:
    """``requested_by``: the caller's login; a body that names a requester is refused."""
    refuse_actor_fields(body, "requested_by")
    refuse_unknown(body, RUN_FIELDS)
    return RunRequest(
        project=body.get("project", ""),
        environment=body.get("environment", ""),
        version=body.get("version", ""),
        ref=body.get("ref", ""),
        extra_vars=body.get("extra_vars", {}),
        limit=body.get("limit", ""),
        tags=body.get("tags", []),
        check=body.get("check", False),
        requested_by=requested_by,
        freeze_override=body.get("freeze_override", ""),
    )
