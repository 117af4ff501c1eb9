"""`playdeck deploy --wait` shows how far the run has got, measured against the previous successful
run: a redrawn bar on a terminal, plain percentage lines in a log; the exit code rules stay."""

from __future__ import annotations

import io
import re

from playdeck.cli.progress import CLEAR_LINE, ProgressDisplay
from tests.cli.cli_support import playdeck

RESULT = {"event": "runner_on_ok", "stdout": "ok: [web1]"}


def test_plain_lines_each_tenth_without_a_terminal() -> None:
    out = io.StringIO()
    progress = ProgressDisplay(expected=20, previous_seconds=None, stream=out, tty=False)
    for _ in range(20):
        progress.event(RESULT)
        progress.event({"event": "playbook_on_task_start"})  # not a task result
        progress.draw()
    progress.finish(succeeded=True)

    lines = out.getvalue().splitlines()
    assert lines[0] == "progress: 5% (1 of ~20 tasks)"
    # One line per tenth, never 100 before the run succeeded, then 100 at the end.
    assert [int(re.search(r"(\d+)%", line).group(1)) // 10 for line in lines[:-1]] == list(range(10))
    assert lines[-1] == "progress: 100% (20 tasks)" and CLEAR_LINE not in out.getvalue()


def test_a_terminal_gets_a_bar_that_steps_aside_for_log_lines() -> None:
    out = io.StringIO()
    progress = ProgressDisplay(expected=4, previous_seconds=600, stream=out, tty=True)
    progress.running()
    progress.event(RESULT)
    progress.draw()
    assert out.getvalue().startswith(CLEAR_LINE + "[#######")
    assert re.search(r"25% 1/~4 tasks, ETA (9m5\ds|10m00s)$", out.getvalue())

    progress.before_output()
    assert out.getvalue().endswith(CLEAR_LINE)  # the line is clear for the log line printed next
    progress.finish(succeeded=False)
    assert "progress:" not in out.getvalue()


def test_without_an_earlier_run_it_counts_tasks_only() -> None:
    progress = ProgressDisplay(expected=None, previous_seconds=None, stream=io.StringIO(), tty=True)
    progress.event(RESULT)
    assert progress.text() == "1 tasks done (no earlier successful run to compare)"


def test_deploy_wait_reports_progress_against_the_previous_run(production_web_api: str, start_worker) -> None:
    start_worker()
    first = playdeck("deploy", "sampleapp", "--env", "staging", "--version", "1.0.0", "--wait", timeout=180)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "progress:" not in first.stderr  # nothing to compare with yet

    second = playdeck("deploy", "sampleapp", "--env", "staging", "--version", "1.0.1", "--wait", timeout=180)

    assert second.returncode == 0, second.stdout + second.stderr
    percents = [int(p) for p in re.findall(r"^progress: (\d+)%", second.stderr, re.M)]
    assert percents[0] < 50 and percents[-1] == 100 and percents == sorted(percents), second.stderr
    assert "PLAY RECAP" in second.stdout and "progress:" not in second.stdout  # the log stays clean
