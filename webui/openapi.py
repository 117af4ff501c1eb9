"""The API's OpenAPI description (webui/openapi.yaml), served as JSON at ``/api/v1/openapi.json``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

from webui import access

bp = Blueprint("openapi", __name__)
SPEC_FILE = Path(__file__).with_name("openapi.yaml")


@functools.cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_FILE.read_text())


@bp.get("/api/v1/openapi.json")
@access.public  # describes the API, holds no data: tools fetch it before they have a token
def openapi_json() -> Response:
    return jsonify(spec())
