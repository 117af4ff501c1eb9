"""The progress line of ``playdeck deploy --wait`` / ``relaunch --wait``, on stderr beside the live log.

Expected work is what the previous successful run of the same project and environment did (the API's
``/runs/<id>/progress``); done work is counted from the task results the CLI itself streams. On a
terminal a bar is redrawn under the log; otherwise (a CI log, a pipe) a plain line is printed each time
another tenth is done, so logs stay readable.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, TextIO

from playdeck.runs.progress import TASK_RESULT_EVENTS

BAR_WIDTH = 30
CLEAR_LINE = "\r\x1b[K"


def _duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


class ProgressDisplay:
    def __init__(
        self,
        expected: int | None,
        previous_seconds: float | None,
        stream: TextIO | None = None,
        tty: bool | None = None,
    ) -> None:
        self.expected = expected or None
        self.previous_seconds = previous_seconds
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.done = 0
        self.started: float | None = None
        self.shown = False
        self.last_tenth = -1

    @classmethod
    def for_run(cls, progress: dict[str, Any]) -> ProgressDisplay:
        return cls(progress.get("expected"), progress.get("previous_duration_seconds"))

    def percent(self) -> int | None:
        return None if not self.expected else min(99, 100 * self.done // self.expected)

    def text(self) -> str:
        percent = self.percent()
        if percent is None:
            return f"{self.done} tasks done (no earlier successful run to compare)"
        filled = BAR_WIDTH * percent // 100
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}% {self.done}/~{self.expected} tasks"
        if self.previous_seconds is not None and self.started is not None:
            left = self.previous_seconds - (time.monotonic() - self.started)
            line += f", ETA {_duration(left)}" if left >= 1 else ", ETA any moment"
        return line

    def running(self) -> None:
        self.started = self.started or time.monotonic()

    def event(self, event: dict[str, Any]) -> None:
        if event.get("event") in TASK_RESULT_EVENTS:
            self.done += 1

    def before_output(self) -> None:
        """Called before a log line is printed: the bar steps aside and is redrawn after it."""
        if self.tty and self.shown:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
            self.shown = False

    def draw(self) -> None:
        if self.tty:
            width = shutil.get_terminal_size((80, 24)).columns
            self.stream.write(CLEAR_LINE + self.text()[: max(10, width - 1)])
            self.stream.flush()
            self.shown = True
            return
        percent = self.percent()
        if percent is not None and percent // 10 > self.last_tenth:
            self.last_tenth = percent // 10
            self.stream.write(f"progress: {percent}% ({self.done} of ~{self.expected} tasks)\n")
            self.stream.flush()

    def finish(self, succeeded: bool) -> None:
        self.before_output()
        if succeeded and self.expected and not self.tty:
            self.stream.write(f"progress: 100% ({self.done} tasks)\n")
            self.stream.flush()
