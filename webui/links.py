"""Links a page draws hundreds of times (the dashboard's ~500 links to runs), built without werkzeug's URL
building for each: ~20 µs a link was a fifth of the time to draw the dashboard (bench/dashboard.py)."""

from __future__ import annotations

from flask import g, url_for


def run_href(run_id: int) -> str:
    """``url_for("pages.run", run_id=run_id)``: the route's path is built once per request, then each id is
    put at its end (the run's id is the path's last part)."""
    prefix = g.get("run_href_prefix")
    if prefix is None:
        prefix = g.run_href_prefix = url_for("pages.run", run_id=0).removesuffix("0")
    return f"{prefix}{run_id}"
