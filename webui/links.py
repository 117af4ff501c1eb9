"""Links a page draws hundreds of times (the dashboard's ~500 links to runs, /attention's run and cancel links),
built without werkzeug's URL building for each: ~20 µs a link was a fifth of the time to draw the dashboard
(bench/dashboard.py)."""

from __future__ import annotations

from flask import g, url_for

# An id no run has: its digits stand for the run's id in a route's path built once per request.
_STAND_IN = "9876543210123"


def run_link(endpoint: str, run_id: int) -> str:
    """``url_for(endpoint, run_id=run_id)`` for a route whose one variable is a run's id: the path is built once
    per request and endpoint, then each id is put in its place."""
    paths = g.setdefault("run_link_paths", {})
    path = paths.get(endpoint)
    if path is None:
        path = paths[endpoint] = url_for(endpoint, run_id=int(_STAND_IN))
    return path.replace(_STAND_IN, str(run_id))


def run_href(run_id: int) -> str:
    """``url_for("pages.run", run_id=run_id)``."""
    return run_link("pages.run", run_id)
