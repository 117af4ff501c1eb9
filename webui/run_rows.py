"""The rows of a runs table (the runs page, a project's recent runs), each rendered once per version
of its run.

A row says what the JSON text the database rendered for its run says (``runs.list_runs``), and its
age ("3 min ago"), which only the clock changes. So the text is the cache key: a row is rendered again
when its run changed (a new state, a longer duration), never served stale, and the age is put into
the rendered row on every request. Rendering 50 rows in Jinja, with their JSON decoded, was more than
half the CPU of the runs page at 100k runs (issue 7); finished runs, most rows, never change.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence

from flask import get_template_attribute
from markupsafe import Markup, escape

from webui.formatting import age

# Rows kept per web process (a row is ~600 bytes): the first pages of every filter people use.
ROWS_KEPT = 4096
# Stands for the age cell's text in a rendered row; the macro escapes nothing here (no & < > " ').
_AGE = "\x00age\x00"

_rows: OrderedDict[tuple[str, bool], tuple[str, str, str]] = OrderedDict()
_lock = threading.Lock()


def _render(text: str, with_project: bool) -> tuple[str, str, str]:
    """The row's markup before the age, the time it counts from, and the markup after it."""
    run = json.loads(text)
    html = str(get_template_attribute("_macros.html", "run_row")(run, with_project, _AGE))
    before, after = html.rsplit(_AGE, 1)  # the last one: the cells before it hold the user's texts
    return before, run["queued_at"], after


def run_rows(texts: Sequence[str], with_project: bool = True) -> Markup:
    """The ``<tr>`` of each run, from the JSON texts of ``runs.list_runs``."""
    parts = []
    for text in texts:
        key = (text, with_project)
        with _lock:
            row = _rows.get(key)
            if row is not None:
                _rows.move_to_end(key)
        if row is None:
            row = _render(text, with_project)
            with _lock:
                _rows[key] = row
                while len(_rows) > ROWS_KEPT:
                    _rows.popitem(last=False)
        before, queued_at, after = row
        parts += (before, escape(age(queued_at)), after)
    return Markup("".join(parts))
