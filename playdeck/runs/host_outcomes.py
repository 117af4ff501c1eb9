"""What a run's events say about each host: its recap, where it failed, and what it reported it runs now.

A fold over a run's events in counter order (the worker feeds each event as it is stored, so nothing is
read back at the end of a long run). It serves three readers: the host recap of a run that ended without
``playbook_on_stats`` (canceled, timed out: ansible-playbook was stopped before its recap), the failure
summary (``playdeck.runs.failure_summary``) and what each host runs now (``playdeck.releases.host_versions``).

The switch convention: a playbook tells Playdeck that a host now runs a version by a task result that
carries ``playdeck_deployed`` right after it switched the host (and again after a rollback), as a fact
(``set_fact: {playdeck_deployed: {version: "5.0.0"}}``), as stats (``set_stats``) or in a module's own
result. The value is a mapping with ``version`` and optionally ``commit``, a version text, or ``true`` for
the run's own version and commit. A host's last report wins: a rescue that puts the old release back
reports the old version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REPORT_KEY = "playdeck_deployed"
# Module messages are cut to this many characters in a summary (the whole output stays in the log).
MESSAGE_CHARS = 500
MAX_VERSION_CHARS = 128
MAX_COMMIT_CHARS = 64
# Events of one host's task; "runner_item_on_*" are a loop's items, which Ansible's recap does not count.
TASK_EVENTS = ("runner_on_start", "runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


@dataclass(frozen=True)
class Failure:
    counter: int
    task: str
    message: str
    unreachable: bool


@dataclass(frozen=True)
class Report:
    """A host's reported switch: ``version``/``commit`` None mean the run's own."""

    counter: int
    version: str | None
    commit: str | None


@dataclass
class HostOutcome:
    counts: dict[str, int] = field(default_factory=dict)
    first_failure: Failure | None = None
    last_failure: Failure | None = None
    # A failure not yet followed by another task on the host: the host ended failed (so far).
    failing: bool = False
    report: Report | None = None

    def bump(self, stat: str, by: int = 1) -> None:
        self.counts[stat] = self.counts.get(stat, 0) + by


def failure_message(result: dict[str, Any]) -> str:
    """The module's own words: its message, and the last line of its error output when it has one."""
    message = str(result.get("msg") or result.get("reason") or "").strip()
    stderr = str(result.get("stderr") or "").strip()
    if stderr:
        tail = stderr.splitlines()[-1].strip()
        message = f"{message}: {tail}" if message and tail not in message else message or tail
    return (message or "failed")[:MESSAGE_CHARS]


def reported_switch(result: dict[str, Any]) -> Any:
    """The ``playdeck_deployed`` value a task result carries, if any (see the module's docstring)."""
    for holder in (result, result.get("ansible_facts"), (result.get("ansible_stats") or {}).get("data")):
        if isinstance(holder, dict) and REPORT_KEY in holder:
            return holder[REPORT_KEY]
    return None


def parse_report(counter: int, value: Any) -> Report | None:
    if value is True:
        return Report(counter, None, None)
    if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
        return Report(counter, str(value).strip()[:MAX_VERSION_CHARS], None)
    if isinstance(value, dict) and (value.get("version") or value.get("commit")):
        version, commit = value.get("version"), value.get("commit")
        return Report(
            counter,
            str(version).strip()[:MAX_VERSION_CHARS] if version else None,
            str(commit).strip()[:MAX_COMMIT_CHARS] if commit else None,
        )
    return None


class HostOutcomes:
    """The fold: ``add`` each event of a run in counter order, then read ``hosts``, ``stats()``..."""

    def __init__(self) -> None:
        self.hosts: dict[str, HostOutcome] = {}
        # The last task that started (the one a cancel or timeout stopped), and its event counter.
        self.last_task: tuple[int, str] | None = None

    def add(self, counter: int, event: str, data: dict[str, Any]) -> None:
        if event == "playbook_on_task_start":
            self.last_task = (counter, str(data.get("task") or data.get("name") or ""))
            return
        host = data.get("host")
        if event not in TASK_EVENTS or not host:
            return
        outcome = self.hosts.setdefault(str(host), HostOutcome())
        if outcome.failing:
            # Another task ran on the host after its failure: a rescue took over.
            outcome.failing = False
            outcome.bump("failures", -1)
            outcome.bump("rescued")
        self._count(outcome, counter, event, data)

    def _count(self, outcome: HostOutcome, counter: int, event: str, data: dict[str, Any]) -> None:
        result = data.get("res") if isinstance(data.get("res"), dict) else {}
        if event == "runner_on_ok":
            outcome.bump("ok")
            if result.get("changed"):
                outcome.bump("changed")
            report = parse_report(counter, reported_switch(result))
            if report is not None:
                outcome.report = report
        elif event == "runner_on_skipped":
            outcome.bump("skipped")
        elif event == "runner_on_failed" and data.get("ignore_errors"):
            outcome.bump("ok")
            outcome.bump("ignored")
        elif event in ("runner_on_failed", "runner_on_unreachable"):
            unreachable = event == "runner_on_unreachable"
            failure = Failure(counter, str(data.get("task") or ""), failure_message(result), unreachable)
            outcome.first_failure = outcome.first_failure or failure
            outcome.last_failure = failure
            outcome.bump("dark" if unreachable else "failures")
            outcome.failing = not unreachable

    def stats(self) -> dict[str, dict[str, int]]:
        """The recap in the shape of ``playbook_on_stats`` (``{"ok": {host: n}, "failures": ...}``)."""
        shaped: dict[str, dict[str, int]] = {}
        for stat in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored"):
            shaped[stat] = {host: outcome.counts.get(stat, 0) for host, outcome in self.hosts.items()}
        return shaped

    def reports(self) -> dict[str, Report]:
        return {host: outcome.report for host, outcome in self.hosts.items() if outcome.report is not None}
