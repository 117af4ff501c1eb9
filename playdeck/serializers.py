"""JSON shapes of projects, runs and events, shared by the API, the stream and the CLI."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement

from playdeck.db_clock import database_utcnow
from playdeck.models import Environment, Project, Run, RunEvent
from playdeck.runs import failure_summary
from playdeck.runs.conditions import is_ended
from playdeck.runs.states import is_terminal
from playdeck.sql_json import iso_timestamp, json_bool, json_embedded, json_object, seconds_between


def iso(value: dt.datetime | None) -> str | None:
    """A stored (naive UTC) timestamp as ISO 8601 with its offset."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{value.isoformat()}+00:00"


def project_json(project: Project) -> dict[str, Any]:
    """What any reader may see of a project: never a secret (``playdeck.projects.registry.describe`` adds which
    credentials are set, and the inline inventories' text)."""
    return {
        "name": project.name,
        "description": project.description,
        # directory: the server's playbook and inventory dirs; git: a commit of git_url, checked out per run.
        "source_kind": project.source_kind,
        "git_url": project.git_url,
        "git_branch": project.git_branch,
        "git_username": project.git_username,
        "git_cache_seconds": project.git_cache_seconds,
        "git_submodules": project.git_submodules,
        "git_known_hosts_entries": len((project.git_known_hosts or "").splitlines()),
        "branch_environments": project.branch_environments,
        "branch_pipelines": project.branch_pipelines,
        "vault_id": project.vault_id,
        "archived_at": iso(project.archived_at),
        "playbook": project.playbook,
        "run_timeout_seconds": project.run_timeout_seconds,
        "idle_timeout_seconds": project.idle_timeout_seconds,
        "lock_deploys": project.lock_deploys,
        "supersede_queued": project.supersede_queued,
        "retry_lost_runs": project.retry_lost_runs,
        # With a launch form (GET /api/v1/projects/NAME/launch-form), also variables it does not declare.
        "allow_free_extra_vars": project.allow_free_extra_vars,
        "environments": [
            {
                "name": env.name,
                # "" with an inline inventory (inventory_inline true).
                "inventory": env.inventory,
                "inventory_inline": env.inline_inventory is not None,
                "protected": env.protected,
                # null: the default queue of the run's kind (playdeck env set --queue)
                "queue": env.queue,
                "known_hosts_entries": env.known_hosts_entries,
                # null, or the environment where a commit must have succeeded before it is deployed here
                "requires_success_in": env.requires_success_in,
                # 0: deploys there are queued at once; else how many approvals they wait for, from whom.
                "approvals_required": env.approvals_required,
                "approver_roles": env.approver_roles,
                "approver_users": env.approver_users,
                "approval_timeout_seconds": env.approval_timeout_seconds,
                "rollback_skips_approval": env.rollback_skips_approval,
            }
            for env in project.environments
        ],
    }


# A host's line of a run's recap, in the order the API lists its keys (RunHostSummary's columns).
HOST_SUMMARY_FIELDS = ("host", "ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")


def run_json(run: Run, with_summaries: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": run.id,
        "kind": run.kind,
        "project": run.project.name,
        "environment": run.environment.name,
        "version": run.version,
        # Git projects: the ref asked for, the full commit it was resolved to when queued, and its subject.
        "ref": run.ref,
        "commit": run.commit_sha,
        "commit_subject": run.commit_subject,
        "extra_vars": run.extra_vars,
        "limit": run.limit,
        "tags": run.tags,
        "check": run.check_mode,
        "requested_by": run.requested_by,
        "queue": run.queue,
        "state": run.state,
        "terminal": is_terminal(run.state),
        "reason": run.reason,
        "queued_at": iso(run.queued_at),
        "not_before": iso(run.not_before),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "heartbeat_at": iso(run.heartbeat_at),
        "cancel_requested_at": iso(run.cancel_requested_at),
        "canceled_by": run.canceled_by,
        "duration_seconds": run.duration_seconds,
        "worker_host": run.worker_host,
        "worker_pid": run.worker_pid,
        "playbook_pid": run.playbook_pid,
        "rc": run.rc,
        "attempt": run.attempt,
        "event_count": run.event_count,
        "relaunch_of": run.relaunch_of_id,
        "rollback_of": run.rollback_of_id,
        "promoted_from": run.promoted_from_id,
        "retry_number": run.retry_number,
        # A release manager's reason for deploying inside a freeze window ("": none).
        "freeze_override": run.freeze_override,
        "approvals_required": run.approvals_required,
        "approvals_given": run.approvals_given,
        "approval_expires_at": iso(run.approval_expires_at),
        "approved_at": iso(run.approved_at),
        # A pipeline's step (playdeck.pipelines), and the playbook it ran instead of the project's (None).
        "pipeline_run_id": run.pipeline_run_id,
        "pipeline_step": run.pipeline_step,
        "playbook": run.playbook,
    }
    if with_summaries:
        data["host_summaries"] = [{name: getattr(s, name) for name in HOST_SUMMARY_FIELDS} for s in run.host_summaries]
        # The hosts this run switched, and to what (playdeck.releases.host_versions).
        data["deployed_hosts"] = [
            {"host": s.host, "version": s.deployed_version, "commit": s.deployed_commit}
            for s in run.host_summaries
            if s.deployed_version is not None
        ]
        # Why it ended badly, per failed host, with the log line of each failure (None for a good end).
        data["failure_summary"] = failure_summary.for_run(run.state, run.reason, run.failure_summary_json)
    return data


@functools.cache  # built once: building it took longer than the query it is part of
def run_brief_sql() -> ColumnElement[str]:
    """``run_json(run, with_summaries=False)`` rendered by the database, for lists of runs: select it
    from ``Run`` joined with its ``Project`` and ``Environment``. A running run's duration is counted
    to the database's clock."""
    return json_object(
        {
            "id": Run.id,
            "kind": Run.kind,
            "project": Project.name,
            "environment": Environment.name,
            "version": Run.version,
            "ref": Run.ref,
            "commit": Run.commit_sha,
            "commit_subject": Run.commit_subject,
            "extra_vars": json_embedded(Run.extra_vars_json),
            "limit": Run.limit,
            "tags": json_embedded(Run.tags_json),
            "check": json_bool(Run.check_mode),
            "requested_by": Run.requested_by,
            "queue": Run.queue,
            "state": Run.state,
            "terminal": json_bool(is_ended()),
            "reason": Run.reason,
            "queued_at": iso_timestamp(Run.queued_at),
            "not_before": iso_timestamp(Run.not_before),
            "started_at": iso_timestamp(Run.started_at),
            "finished_at": iso_timestamp(Run.finished_at),
            "heartbeat_at": iso_timestamp(Run.heartbeat_at),
            "cancel_requested_at": iso_timestamp(Run.cancel_requested_at),
            "canceled_by": Run.canceled_by,
            "duration_seconds": seconds_between(Run.started_at, func.coalesce(Run.finished_at, database_utcnow())),
            "worker_host": Run.worker_host,
            "worker_pid": Run.worker_pid,
            "playbook_pid": Run.playbook_pid,
            "rc": Run.rc,
            "attempt": Run.attempt,
            "event_count": Run.event_count,
            "relaunch_of": Run.relaunch_of_id,
            "rollback_of": Run.rollback_of_id,
            "promoted_from": Run.promoted_from_id,
            "retry_number": Run.retry_number,
            "freeze_override": Run.freeze_override,
            "approvals_required": Run.approvals_required,
            "approvals_given": Run.approvals_given,
            "approval_expires_at": iso_timestamp(Run.approval_expires_at),
            "approved_at": iso_timestamp(Run.approved_at),
            "pipeline_run_id": Run.pipeline_run_id,
            "pipeline_step": Run.pipeline_step,
            "playbook": Run.playbook,
        }
    )


@functools.cache
def event_log_sql() -> ColumnElement[str]:
    """``event_json(event)`` (without its data) rendered by the database, for pages of log lines."""
    return json_object(
        {
            "counter": RunEvent.counter,
            "uuid": RunEvent.uuid,
            "event": RunEvent.event,
            "host": RunEvent.host,
            "task": RunEvent.task,
            "play": RunEvent.play,
            "stdout": RunEvent.stdout,
            "start_line": RunEvent.start_line,
            "end_line": RunEvent.end_line,
            "created": iso_timestamp(RunEvent.created),
        }
    )


def event_json(event: RunEvent, with_data: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "counter": event.counter,
        "uuid": event.uuid,
        "event": event.event,
        "host": event.host,
        "task": event.task,
        "play": event.play,
        "stdout": event.stdout,
        "start_line": event.start_line,
        "end_line": event.end_line,
        "created": iso(event.created),
    }
    if with_data:
        data["event_data"] = event.event_data
    return data
