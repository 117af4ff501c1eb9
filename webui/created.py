"""``201 Created`` answers of the API: the new object's JSON, and where to read it again (Location)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for


def created(data: dict[str, Any], endpoint: str, **values: Any) -> tuple[Response, int]:
    response = jsonify(data)
    response.headers["Location"] = url_for(endpoint, **values)
    return response, 201
