"""Responses whose list is made of JSON texts the database rendered (``playdeck.sql_json``).

The texts are passed through as they are: decoding them only to encode them again was most of the
cost of a page of runs or of log lines (issue 7).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response


def rendered_rows(key: str, rows: list[str], **fields: Any) -> Response:
    """``{key: [row, ...], **fields}`` as application/json, each row spliced in unchanged."""
    rest = json.dumps(fields)
    body = f'{{"{key}":[{",".join(rows)}]' + (f",{rest[1:]}" if fields else "}")
    return Response(body, mimetype="application/json")
