"""Relaunch: a new run with a finished run's parameters, on all its hosts or only on those that failed.

The new run is linked to the original (``relaunch_of``), deploys the same commit (a git project's, whatever its
ref names now) and goes through ``request_run`` like any other,
so it is validated against the project as it is now (a timeout the project no longer allows, a variable its
launch form no longer declares, are refused). A run given secret inputs cannot be relaunched: their values
are dropped when it ends (``playdeck.launch_inputs``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from playdeck.errors import Conflict, ValidationError
from playdeck.models import RunHostSummary
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.runs.states import is_terminal

RELAUNCH_HOSTS = ("all", "failed")


def hosts_to_retry(summaries: Iterable[RunHostSummary]) -> list[str]:
    """The hosts a run failed on or could not reach, sorted."""
    return sorted(s.host for s in summaries if s.failed > 0 or s.unreachable > 0)


def relaunch_request(session: Session, run_id: int, hosts: str = "all", *, requested_by: str) -> RunRequest:
    """The request that relaunches run ``run_id``; the caller submits it (``submit_run``).

    ``hosts="failed"`` limits the new run to the hosts whose recap counted a failure or an unreachable,
    as an Ansible limit (``host1,host2``). NotFound for an unknown run, Conflict for one still queued or
    running, or, with ``"failed"``, for one without failed hosts.
    """
    if hosts not in RELAUNCH_HOSTS:
        raise ValidationError("hosts", f"must be one of {', '.join(RELAUNCH_HOSTS)}, got '{hosts}'")
    run = get_run(session, run_id)
    if not is_terminal(run.state):
        raise Conflict(f"run {run_id} is still {run.state}")
    if run.secret_var_names:
        raise ValidationError(
            "extra_vars",
            f"run {run_id} was given the secret input(s) {', '.join(run.secret_var_names)}, which are not kept after "
            "a run ends: deploy again and enter them",
        )
    limit = run.limit
    if hosts == "failed":
        retry = hosts_to_retry(run.host_summaries)
        if not retry:
            raise Conflict(f"run {run_id} has no failed or unreachable hosts")
        limit = ",".join(retry)
    return RunRequest(
        project=run.project.name,
        environment=run.environment.name,
        version=run.version,
        extra_vars=run.extra_vars,
        limit=limit,
        tags=run.tags,
        check=run.check_mode,
        requested_by=requested_by,
        kind=run.kind,
        timeout=run.timeout_seconds,
        idle_timeout=run.idle_timeout_seconds,
        relaunch_of=run.id,
        # The same commit again (a git project's), not where its ref points now.
        ref=run.ref,
        commit_sha=run.commit_sha,
        commit_subject=run.commit_subject,
    )
