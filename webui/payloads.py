"""The JSON body of ``POST /api/v1/runs`` turned into a RunRequest.

Only the shape is checked here (an object with known keys); values are validated by the run service,
which is the one place that knows what a valid run is.
"""

from __future__ import annotations

import json
from typing import Any

from playdeck.errors import ValidationError
from playdeck.runs import RunRequest
from webui.authorize import refuse_actor_fields

RUN_FIELDS = ("project", "environment", "version", "extra_vars", "limit", "tags", "check")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    # RecursionError: a deeply nested document must be a 400, not a crash of the worker.
    except (ValueError, RecursionError):
        raise ValidationError("body", "is not valid JSON") from None
    if not isinstance(body, dict):
        raise ValidationError("body", f"must be a JSON object, got {type(body).__name__}")
    return body


def run_request_from_json(body: dict[str, Any], requested_by: str) -> RunRequest:
    """``requested_by``: the caller's login; a body that names a requester is refused."""
    refuse_actor_fields(body, "requested_by")
    unknown = sorted(set(body) - set(RUN_FIELDS))
    if unknown:
        raise ValidationError("body", f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(RUN_FIELDS)}")
    return RunRequest(
        project=body.get("project", ""),
        environment=body.get("environment", ""),
        version=body.get("version", ""),
        extra_vars=body.get("extra_vars", {}),
        limit=body.get("limit", ""),
        tags=body.get("tags", []),
        check=body.get("check", False),
        requested_by=requested_by,
    )
