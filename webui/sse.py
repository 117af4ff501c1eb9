"""The Server-Sent Events wire format: one message is ``id``/``event``/``data`` lines and a blank line."""

from __future__ import annotations

import json
from typing import Any

KEEPALIVE = ": keepalive\n\n"


def sse_message(event: str, data: Any, message_id: int | None = None) -> str:
    # json.dumps escapes newlines inside strings, so the data always fits one "data:" line.
    lines = [] if message_id is None else [f"id: {message_id}"]
    lines += [f"event: {event}", f"data: {json.dumps(data, separators=(',', ':'))}"]
    return "\n".join(lines) + "\n\n"
