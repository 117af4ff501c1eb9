"""What each host of an environment runs now, from what the runs did to it, whatever their end.

When a real deploy ends (successful, failed, canceled, timed out), its worker records the hosts it switched:

- every host that reported its switch (``playdeck_deployed``, see ``playdeck.runs.host_outcomes``), with the
  version it reported (the last report wins: a rescue that rolled back reports the old version), whatever
  the run's end: a deploy canceled after its switch did switch;
- and, for a playbook that reports nothing, on a successful run without tags (the whole play ran): each host
  whose recap shows no failure, no unreachable and no rescue, with the run's version and commit.

A canceled, failed or timed-out run that reported nothing changes nothing here: without a report, nobody knows
how far it got on a host. Check-mode runs and DNS runs change nothing. Environments that no run has recorded
hosts for yet fall back, on the pages, to their last successful deploy.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, bindparam, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from playdeck.commit_label import short_sha
from playdeck.db import Executor
from playdeck.models import HostDeployment, Run, RunHostSummary, utcnow
from playdeck.runs.host_outcomes import Report
from playdeck.runs.states import RunState, real_deploy
from playdeck.serializers import HOST_SUMMARY_FIELDS, iso


@dataclass(frozen=True)
class HostVersion:
    host: str
    version: str
    commit: str | None
    run_id: int
    updated_at: dt.datetime | None

    @property
    def label(self) -> str:
        return label(self.version, self.commit)

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "version": self.version,
            "commit": self.commit,
            "label": self.label,
            "run": self.run_id,
            "updated_at": iso(self.updated_at),
        }


def label(version: str, commit: str | None) -> str:
    """How a host's version reads: the version, else the commit, else the playbook's default."""
    return version or short_sha(commit) or "(default version)"


def describe(hosts: Iterable[HostVersion]) -> str:
    """ "5.0.0 on 2 hosts", or when they differ "4.1.0 on 2 hosts, 5.0.0 on 1" (most hosts first)."""
    counts = Counter(host.label for host in hosts)
    groups = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    parts = [f"{name} on {count}" for name, count in groups]
    if parts:
        first_count = groups[0][1]
        parts[0] += " host" if first_count == 1 else " hosts"
    return ", ".join(parts)


def switched_hosts(
    run: Run, state: RunState, reports: Mapping[str, Report], recap: Mapping[str, Mapping[str, int]]
) -> dict[str, tuple[str, str | None]]:
    """Host -> (version, commit) this run left on it (the rules in the module's docstring). ``recap``:
    host -> its recap columns (``failed``, ``unreachable``, ``rescued``)."""
    if not real_deploy(run.kind, run.check_mode, run.playbook):
        return {}
    if reports:
        return {host: _reported(run, report) for host, report in reports.items()}
    if state is not RunState.SUCCESSFUL or run.tags:
        return {}
    return {
        host: (run.version, run.commit_sha)
        for host, counts in recap.items()
        if not (counts.get("failed") or counts.get("unreachable") or counts.get("rescued"))
    }


def _reported(run: Run, report: Report) -> tuple[str, str | None]:
    version = run.version if report.version is None else report.version
    # The run's commit belongs to the run's version; a rollback's report of an older version has its own.
    commit = report.commit or (run.commit_sha if version == run.version else None)
    return version, commit


def record(session: Session, run: Run, switched: Mapping[str, tuple[str, str | None]]) -> None:
    """In the transaction of the run's end: each switched host's current version, and on the run's recap
    which hosts it switched to what."""
    now = utcnow()
    for host, (version, commit) in switched.items():
        current = {"version": version, "commit_sha": commit, "run_id": run.id, "updated_at": now}
        session.execute(_upsert(session, {"environment_id": run.environment_id, "host": host, **current}, current))
        session.execute(
            update(RunHostSummary)
            .where(RunHostSummary.run_id == run.id, RunHostSummary.host == host)
            .values(deployed_version=version, deployed_commit=commit)
            .execution_options(synchronize_session=False)
        )


def _upsert(session: Session, row: dict[str, object], changes: dict[str, object]) -> Insert:
    """One statement that inserts the host's row or changes it: two runs of one environment ending together
    (a project without deploy locks) both write the same host, and a read-then-insert lost that race
    with a duplicate key that ended the second run in error."""
    if session.get_bind().dialect.name == "sqlite":
        statement = sqlite_insert(HostDeployment).values(**row)
        return statement.on_conflict_do_update(index_elements=["environment_id", "host"], set_=changes)
    return mysql_insert(HostDeployment).values(**row).on_duplicate_key_update(**changes)


# Built once: SQLAlchemy memoizes a statement's cache key on the statement object.
_HOST_COLUMNS = (
    HostDeployment.environment_id,
    HostDeployment.host,
    HostDeployment.version,
    HostDeployment.commit_sha,
    HostDeployment.run_id,
    HostDeployment.updated_at,
)


def environment_hosts(session: Executor, environment_ids: list[int]) -> dict[int, list[HostVersion]]:
    """Per environment, its hosts' current versions, by host name (one query for all of them)."""
    found: dict[int, list[HostVersion]] = {environment_id: [] for environment_id in environment_ids}
    if not environment_ids:
        return found
    rows = session.execute(
        select(*_HOST_COLUMNS)
        .where(HostDeployment.environment_id.in_(environment_ids))
        .order_by(HostDeployment.environment_id, HostDeployment.host)
    )
    for environment_id, *host in rows:
        found[environment_id].append(HostVersion(*host))
    return found


def environment_json(hosts: list[HostVersion]) -> dict[str, Any]:
    """An environment's hosts as the API and the pages show them."""
    return {"summary": describe(hosts), "hosts": [host.to_json() for host in hosts]}


# A run's recap as the run page reads it: HOST_SUMMARY_FIELDS, then what the run switched each host to.
RUN_RECAP = (
    select(
        *(getattr(RunHostSummary, column) for column in HOST_SUMMARY_FIELDS),
        RunHostSummary.deployed_version,
        RunHostSummary.deployed_commit,
    )
    .where(RunHostSummary.run_id == bindparam("run_id"))
    .order_by(RunHostSummary.host)
)


def run_changes(session: Executor, recap: Iterable[Any], environment_id: int) -> dict[str, Any]:
    """What an ended run did to its hosts, from its ``RUN_RECAP`` rows: those it switched (``changed``: host,
    version) and the others it ran on with what they run now (``unchanged``: host, version label, None if
    no run recorded one)."""
    changed, unchanged = [], []
    for row in recap:
        if row.deployed_version is not None:
            changed.append({"host": row.host, "version": label(row.deployed_version, row.deployed_commit)})
        else:
            unchanged.append({"host": row.host, "version": None})
    if unchanged:
        current = {host.host: host for host in environment_hosts(session, [environment_id])[environment_id]}
        for entry in unchanged:
            now = current.get(entry["host"])
            entry["version"] = now.label if now else None
    return {"changed": changed, "unchanged": unchanged}
