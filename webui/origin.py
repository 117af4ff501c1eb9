"""Same-origin guard for requests that start or stop work."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request
from werkzeug.exceptions import Forbidden


def require_same_origin(message: str) -> None:
    """Refuse a request a browser sent from another site (its Origin names another host): without this
    any web page could make a visitor's browser start, cancel or relaunch a deploy."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise Forbidden(message)
