"""Errors become answers a person can act on: JSON under /api/, an HTML page elsewhere, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from playdeck.errors import PlaydeckError, ValidationError, each_error
from playdeck.launch_form import LaunchValueError

log = logging.getLogger(__name__)

# The JSON API answers errors in JSON; everything else (pages, /api/docs) as a page.
API_PREFIX = "/api/v1/"
DATABASE_DOWN = "the database is not available; try again shortly"
INTERNAL_ERROR = "internal server error; the details are in the server log"


def _answer(
    status: int, message: str, field: str | None = None, errors: list[dict[str, str]] | None = None
) -> tuple[Response | str, int]:
    if request.path.startswith(API_PREFIX):
        if errors is None:
            return jsonify(error=message, field=field), status
        return jsonify(error=message, field=field, errors=errors), status
    return render_template("error.html", status=status, message=message), status


def field_errors_json(error: ValidationError) -> list[dict[str, str]]:
    """Every refused field (``field``, ``message`` without the field's name; ``variable`` for a launch form's
    variable): ``error`` and ``field`` stay the first one's, for clients that read only those."""
    return [
        {"field": each.field, "message": each.field_message}
        | ({"variable": each.variable} if isinstance(each, LaunchValueError) else {})
        for each in each_error(error)
    ]


def _playdeck_error(error: PlaydeckError) -> tuple[Response | str, int]:
    errors = field_errors_json(error) if isinstance(error, ValidationError) else None
    return _answer(error.status_code, error.message, getattr(error, "field", None), errors)


def _http_error(error: HTTPException) -> tuple[Response | str, int]:
    return _answer(error.code or 500, error.description or error.name)


def _database_down(error: OperationalError) -> tuple[Response | str, int]:
    log.error("database error on %s %s: %s", request.method, request.path, error)
    return _answer(503, DATABASE_DOWN)


def _unexpected(error: Exception) -> tuple[Response | str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _answer(500, INTERNAL_ERROR)


def register(app: Flask) -> None:
    app.register_error_handler(PlaydeckError, _playdeck_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_down)
    # Registered, this handler also runs under TESTING, so tests see what users see.
    app.register_error_handler(Exception, _unexpected)
