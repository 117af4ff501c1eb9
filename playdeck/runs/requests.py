"""Asking for a run: the request, its validation, and the queued row it becomes (then its dispatch)."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from sqlalchemy.orm import Session

from playdeck import audit, launch_inputs, projects
from playdeck.db import session_scope
from playdeck.errors import NotFound, ValidationError, collect, raise_all
from playdeck.inputs import check_user_name
from playdeck.launch_form import validate_values
from playdeck.models import Project, Run, utcnow
from playdeck.release_control import admission, approvals, freeze_rule
from playdeck.runs import source_refs
from playdeck.runs.dispatch import dispatch_after_commit
from playdeck.runs.run_request import RunRequest
from playdeck.runs.states import RunKind, RunState
from playdeck.runs.transitions import supersede_waiting
from playdeck.var_names import check_var_name

# Matched in full (fullmatch): with match, "$" also accepts a trailing newline ("1.0\n").
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
# Ansible host patterns (names, groups, globs, ranges, unions, exclusions); no shell metacharacters,
# although nothing is ever passed through a shell anyway.
# No "@": Ansible reads "@path" as a file of host names, and echoes an unmatched one to the log.
LIMIT_RE = re.compile(r"[A-Za-z0-9_.:,!&*\[\]-]{1,512}")
TAG_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_EXTRA_VARS_BYTES = 64 * 1024
MAX_TAGS = 50
# Variables only the platform gives a run: the built-in DNS runs' zone, zone directory, rndc program
# and server. From a launcher, dns_rndc would be a program the worker executes.
PLATFORM_VAR_PREFIXES = ("dns_",)
QUEUE_FOR_KIND = {RunKind.DEPLOY: "deploy", RunKind.DNS: "dns"}


def _check_names(request: RunRequest) -> None:
    if not isinstance(request.project, str) or not request.project:
        raise ValidationError("project", "is required")
    if not isinstance(request.environment, str) or not request.environment:
        raise ValidationError("environment", "is required")


def _check_source(request: RunRequest) -> None:
    if not isinstance(request.version, str) or (request.version and not VERSION_RE.fullmatch(request.version)):
        raise ValidationError(
            "version", "must be 1-128 characters of letters, digits and . _ + - (starting with a letter or digit)"
        )


def _check_ref(request: RunRequest) -> None:
    if not isinstance(request.ref, str):
        raise ValidationError("ref", "must be a branch, tag or commit name")


def _check_extra_vars(request: RunRequest) -> None:
    if not isinstance(request.extra_vars, dict):
        raise ValidationError("extra_vars", "must be a JSON object of variable names to values")
    raise_all(collect(functools.partial(check_var_name, name, "extra_vars") for name in request.extra_vars))
    if len(json.dumps(request.extra_vars)) > MAX_EXTRA_VARS_BYTES:
        raise ValidationError("extra_vars", f"larger than {MAX_EXTRA_VARS_BYTES} bytes")


def _check_limit(request: RunRequest) -> None:
    if not isinstance(request.limit, str) or (request.limit and not LIMIT_RE.fullmatch(request.limit)):
        raise ValidationError(
            "limit", "must be an Ansible host pattern of letters, digits and _ . : , ! & * [ ] - (no spaces, no @file)"
        )


def _check_tags(request: RunRequest) -> None:
    if not isinstance(request.tags, list) or len(request.tags) > MAX_TAGS:
        raise ValidationError("tags", f"must be a list of at most {MAX_TAGS} tag names")
    for tag in request.tags:
        if not isinstance(tag, str) or not TAG_RE.fullmatch(tag):
            raise ValidationError("tags", f"'{tag}' is not a valid tag (letters, digits, _ . -)")


def _check_others(request: RunRequest) -> None:
    if not isinstance(request.check, bool):
        raise ValidationError("check", "must be true or false")
    check_user_name(request.requested_by, "requested_by")
    if request.kind not in QUEUE_FOR_KIND:
        raise ValidationError("kind", f"must be one of {', '.join(QUEUE_FOR_KIND)}")


def validate(request: RunRequest) -> None:
    """The request's fields checked as ``request_run`` checks them, without the project: for what is asked for
    now and run later (a schedule)."""
    raise_all(field_errors(request))


def _validate_launched(request: RunRequest) -> None:
    """What a launcher may not ask for, however privileged: the platform's own runs and variables."""
    if isinstance(request.project, str) and projects.is_built_in(request.project):
        raise ValidationError(
            "project",
            f"project '{request.project}' is built in: Playdeck starts its runs itself (DNS changes regenerate "
            "their zones), nobody deploys or relaunches it",
        )
    if request.kind != RunKind.DEPLOY:
        raise ValidationError("kind", "runs are started as deploys")
    for name in request.extra_vars if isinstance(request.extra_vars, dict) else ():
        if isinstance(name, str) and name.startswith(PLATFORM_VAR_PREFIXES):
            prefixes = ", ".join(PLATFORM_VAR_PREFIXES)
            raise ValidationError("extra_vars", f"'{name}': names starting with {prefixes} are set by Playdeck only")


def _check_launched(request: RunRequest) -> None:
    if not request.platform:
        _validate_launched(request)


# Each check looks at its own fields: all of them run, so every refused field is reported at once.
_CHECKS = (_check_names, _check_source, _check_ref, _check_extra_vars, _check_limit, _check_tags, _check_others,
           _check_launched)  # fmt: skip


def field_errors(request: RunRequest) -> list[ValidationError]:
    """Everything wrong with the request's fields on their own (no project read), each field's error once."""
    return collect(functools.partial(check, request) for check in _CHECKS)


def _all_errors(session: Session, request: RunRequest) -> list[ValidationError]:
    """The fields' errors and, when the project and environment are known, what the project refuses too (run
    limits, the launch form's values): all at once, so a form is mended in one go."""
    errors = field_errors(request)
    if any(error.field in ("project", "environment") for error in errors):
        return errors
    try:
        project = projects.get_project(session, request.project)
        projects.get_environment(project, request.environment)
    except (NotFound, ValidationError):
        return errors  # request_run says so, once the fields are mended
    checks = [functools.partial(_validate_limits, request, project)]
    if isinstance(request.extra_vars, dict):
        checks.append(functools.partial(_launch_values, request, project))
    return errors + collect(checks)


def _validate_limits(request: RunRequest, project: Project) -> None:
    bounds = (("timeout", request.timeout, project.run_timeout_seconds),
              ("idle_timeout", request.idle_timeout, project.idle_timeout_seconds))  # fmt: skip
    for field_name, value, project_limit in bounds:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(field_name, "must be a whole number of seconds from 1")
        if project_limit and value > project_limit:
            raise ValidationError(field_name, f"at most {project_limit} s for project '{project.name}'")


def _launch_values(request: RunRequest, project: Project) -> tuple[dict[str, Any], dict[str, str]]:
    """A deploy's extra vars checked against the project's launch form (defaults filled in, undeclared
    names refused), secrets masked; and the secret values alone. System runs (DNS) set their own."""
    if request.kind != RunKind.DEPLOY:
        return request.extra_vars, {}
    form = launch_inputs.form_for(project)
    return launch_inputs.split_secrets(form, validate_values(form, request.extra_vars))


def _audit_action(request: RunRequest) -> str:
    if request.rollback_of:
        return "run.rollback"
    if request.promoted_from:
        return "run.promote"
    return "run.relaunch" if request.relaunch_of else "run.request"


def _audit_request(session: Session, run: Run, request: RunRequest, extra_var_names: list[str]) -> None:
    audit.record(
        session,
        _audit_action(request),
        "run",
        run.id,
        {
            "project": request.project,
            "environment": request.environment,
            "version": request.version,
            "ref": request.ref,
            "commit": request.commit_sha,
            "limit": request.limit,
            "tags": request.tags,
            "check": request.check,
            # Names only: a value may be a secret.
            "extra_vars": extra_var_names,
            "relaunch_of": request.relaunch_of,
            "rollback_of": request.rollback_of,
            "promoted_from": request.promoted_from,
            "freeze_override": request.freeze_override,
            "approvals_required": run.approvals_required,
        },
    )


def request_run(session: Session, request: RunRequest) -> Run:
    """Validate and record a run: queued, or awaiting approval where its environment requires approvals
    (``playdeck.release_control.approvals``). The caller commits, then dispatches a queued one (never before)
    and never one awaiting approval: the approval that completes it dispatches it."""
    raise_all(_all_errors(session, request))
    project = projects.get_project(session, request.project)
    projects.require_deployable(project)
    environment = projects.get_environment(project, request.environment)
    source_refs.check(request, project)
    admission.check(session, request, project, environment)
    extra_vars, secret_inputs = _launch_values(request, project)
    now = utcnow()
    run = Run(
        kind=request.kind,
        project=project,
        environment=environment,
        version=request.version,
        ref=request.ref,
        commit_sha=request.commit_sha,
        commit_subject=source_refs.subject(request.commit_subject),
        extra_vars_json=json.dumps(extra_vars, sort_keys=True),
        secret_var_names_json=json.dumps(sorted(secret_inputs)),
        limit=request.limit,
        tags_json=json.dumps(request.tags),
        check_mode=request.check,
        requested_by=request.requested_by,
        # The environment's own queue (the workers that can reach its hosts), else the kind's default.
        queue=environment.queue or QUEUE_FOR_KIND[request.kind],
        queued_at=now,
        # Queued, its message sent right after this commits (submit_run, or the caller's own dispatch); or
        # awaiting approval, sent when the last approval commits.
        **approvals.initial_state(request, environment, now),
        timeout_seconds=request.timeout,
        idle_timeout_seconds=request.idle_timeout,
        relaunch_of_id=request.relaunch_of,
        rollback_of_id=request.rollback_of,
        promoted_from_id=request.promoted_from,
        not_before=request.not_before,
        freeze_override=request.freeze_override,
        pipeline_run_id=request.pipeline_run_id,
        pipeline_step=request.pipeline_step,
        playbook=request.playbook,
    )
    session.add(run)
    session.flush()
    if secret_inputs:
        # Sealed for this run's id, known once it is inserted; cleared when the run ends (_transition).
        run.secret_vars_sealed = launch_inputs.seal(run.id, secret_inputs)
    if run.kind == RunKind.DEPLOY:
        # A DNS change's regeneration run is audited as the DNS change itself.
        _audit_request(session, run, request, sorted(extra_vars))
    if run.freeze_override:
        freeze_rule.record_override(session, run)
    if run.approvals_required:
        approvals.requested(session, run.id)
    elif project.supersede_queued and run.kind == RunKind.DEPLOY:
        # A run awaiting approval replaces the waiting ones once it is approved (approvals._queue).
        supersede_waiting(session, run)
    return run


def resolve(request: RunRequest) -> RunRequest:
    """Before the caller's transaction: the request checked, and a git project's ref resolved to its commit,
    which may fetch the project's mirror (seconds: never inside a transaction). Then ``submit_run``."""
    if field_errors(request):
        # Refused before any fetch, with the project's own complaints too when it can say them.
        with session_scope() as session:
            raise_all(_all_errors(session, request))
    return source_refs.resolved(request)


def submit_run(session: Session, request: RunRequest) -> Run:
    """``request_run`` for a ``resolve``d request, and its message to the workers once the caller commits. A
    broker that refuses it is raised to the caller after the commit (``DispatchError``): the run stays queued
    for the reaper."""
    run = request_run(session, request)
    if run.state == RunState.QUEUED:
        dispatch_after_commit(session, run.id, run.queue, run.not_before, must_succeed=True)
    return run
