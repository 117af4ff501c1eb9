"""Text for the terminal: tables, durations, UTC times."""

from __future__ import annotations

import datetime as dt
from typing import Any


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(value) for value in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def utc_text(value: dt.datetime | None) -> str:
    return "-" if value is None else value.isoformat(sep=" ", timespec="seconds")
