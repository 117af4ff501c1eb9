"""Same-origin guard for requests that start or stop work."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request
from werkzeug.exceptions import Forbidden


def same_origin() -> bool:
    """False for a request a browser sent from another site (its Origin names another host)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def require_same_origin(message: str) -> None:
    """Refuse a request a browser sent from another site: without this any web page could make a
    visitor's browser start, cancel or relaunch a deploy."""
    if not same_origin():
        raise Forbidden(message)
