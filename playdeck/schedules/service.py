"""Schedules of a project's environment: created, changed, paused, resumed, deleted and described.

A schedule's run fields are checked when it is saved as a run request is (``playdeck.runs.requests``), and
again when it fires, as its owner, under the release rules of that moment (``playdeck.schedules.firing``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from playdeck import audit, launch_inputs, projects
from playdeck.auth import permissions, users
from playdeck.auth.models import User
from playdeck.auth.permissions import Principal
from playdeck.errors import Conflict, Forbidden, NotFound, ValidationError
from playdeck.launch_form import validate_values
from playdeck.models import Environment, Project, utcnow
from playdeck.pipelines import service as pipelines
from playdeck.pipelines.models import Pipeline
from playdeck.runs.requests import RunRequest, validate
from playdeck.schedules import cron, timing
from playdeck.schedules.models import Schedule, ScheduleFire
from playdeck.serializers import iso

# The fields a schedule is made of, besides its project and environment.
TIMING_FIELDS = ("cron", "timezone", "at")
RUN_FIELDS = ("version", "ref", "extra_vars", "limit", "tags", "check")
OPTION_FIELDS = ("only_new_commits", "missed_policy", "enabled")
FIELDS = ("project", "environment", "pipeline", *TIMING_FIELDS, *RUN_FIELDS, *OPTION_FIELDS)
MISSED_POLICIES = ("run_once", "skip")
RECENT_FIRES = 20
# A pipeline's schedule starts a pipeline run at a ref or version: the deploy-only fields are not its.
PIPELINE_RUN_FIELDS = ("version", "ref")


# An environment the schedule reaches: its name and whether it is protected (who may deploy there).
Target = tuple[str, bool]


def run_request(schedule: Schedule, project: str, environment: str) -> RunRequest:
    """The run a schedule asks for, requested as its owner."""
    return RunRequest(
        project=project,
        environment=environment,
        version=schedule.version,
        ref=schedule.ref,
        extra_vars=schedule.extra_vars,
        limit=schedule.limit,
        tags=schedule.tags,
        check=schedule.check_mode,
        requested_by=schedule.owner,
    )


def _set_timing(schedule: Schedule, given: Mapping[str, Any], now: dt.datetime) -> None:
    """Cron + timezone, or at: checked, stored, and the next fire time worked out from now."""
    has_cron, has_at = given.get("cron") is not None, given.get("at") is not None
    if has_cron == has_at:
        raise ValidationError("cron", 'give either "cron" (with "timezone") or "at" (ISO 8601 with an offset)')
    if has_cron:
        schedule.cron = cron.parse(given["cron"]).expression
        schedule.timezone = cron.zone(given.get("timezone", "UTC")).key
        schedule.at = None
    else:
        if given.get("timezone") is not None:
            cron.zone(given["timezone"])
        schedule.at = timing.parse_at(given["at"], now)
        schedule.timezone = given.get("timezone") or "UTC"
        schedule.cron = None
    schedule.next_fire_at = timing.first_time(schedule, now)


def _set_run_fields(schedule: Schedule, given: Mapping[str, Any]) -> None:
    for name in RUN_FIELDS:
        if name in given:
            value = given[name]
            if name in ("extra_vars", "tags"):
                # Shapes checked by _shape_check; names and values by _check_run_fields.
                setattr(schedule, f"{name}_json", json.dumps(value, sort_keys=True))
            else:
                setattr(schedule, "check_mode" if name == "check" else name, value)


def _set_options(schedule: Schedule, given: Mapping[str, Any]) -> None:
    for name in ("only_new_commits", "enabled"):
        if name in given:
            if not isinstance(given[name], bool):
                raise ValidationError(name, "must be true or false")
            setattr(schedule, name, given[name])
    if "missed_policy" in given:
        if given["missed_policy"] not in MISSED_POLICIES:
            raise ValidationError("missed_policy", f"must be one of {', '.join(MISSED_POLICIES)}")
        schedule.missed_policy = given["missed_policy"]


def _environment_or_pipeline(
    session: Session, project: Project, given: Mapping[str, Any]
) -> tuple[Environment | None, Pipeline | None]:
    """The schedule's target: an environment it deploys, or a pipeline it starts; exactly one."""
    if (given.get("environment") is None) == (given.get("pipeline") is None):
        raise ValidationError("environment", 'give either "environment" (a deploy) or "pipeline" (a pipeline run)')
    if given.get("pipeline") is not None:
        return None, pipelines.by_name(session, project.name, given["pipeline"])
    return projects.get_environment(project, _name(given, "environment")), None


def _check_fields(
    schedule: Schedule, project: Project, environment: Environment | None, given: Mapping[str, Any]
) -> None:
    """A deploy's fields as a run request's; a pipeline's: its ref or version only, checked as a start's."""
    if environment is not None:
        _check_run_fields(schedule, project, environment)
        return
    for name in RUN_FIELDS:
        if name not in PIPELINE_RUN_FIELDS and given.get(name) not in (None, False, [], {}, ""):
            raise ValidationError(name, "a pipeline's schedule takes only ref or version (its steps have the rest)")
    pipelines.check_source(schedule.ref, schedule.version)
    _check_source_kind(schedule, project)


def _check_run_fields(schedule: Schedule, project: Project, environment: Environment) -> None:
    """What the schedule will ask for, checked now as a run request is (fields, launch form, source)."""
    if not isinstance(schedule.extra_vars, dict):
        raise ValidationError("extra_vars", "must be a JSON object of variable names to values")
    request = run_request(schedule, project.name, environment.name)
    validate(request)
    validate_values(launch_inputs.form_for(project), request.extra_vars)
    _check_source_kind(schedule, project)


def _check_source_kind(schedule: Schedule, project: Project) -> None:
    """A directory project has no refs to follow nor commits to compare."""
    if project.is_git:
        return
    if schedule.ref:
        raise ValidationError("ref", f"project '{project.name}' deploys from a directory: it has no refs")
    if schedule.only_new_commits:
        raise ValidationError("only_new_commits", f"project '{project.name}' has no commits to compare")


def _shape_check(given: Mapping[str, Any]) -> None:
    for name in ("extra_vars",):
        if name in given and not isinstance(given[name], dict):
            raise ValidationError(name, "must be a JSON object of variable names to values")
    if "tags" in given and not isinstance(given["tags"], list):
        raise ValidationError("tags", "must be a list of tag names")


def create(session: Session, given: Mapping[str, Any], owner: str, now: dt.datetime | None = None) -> Schedule:
    """A new schedule of ``given`` (the API's fields), owned by ``owner``. The caller checked that the owner may
    deploy there."""
    now = now or utcnow()
    _shape_check(given)
    project = projects.get_project(session, _name(given, "project"))
    projects.require_deployable(project)
    environment, pipeline = _environment_or_pipeline(session, project, given)
    # The columns' defaults, set now: they are checked before the row is inserted.
    schedule = Schedule(project_id=project.id, owner=owner, paused_reason="",
                        environment_id=environment.id if environment else None,
                        pipeline_id=pipeline.id if pipeline else None,
                        version="", ref="", extra_vars_json="{}", limit="", tags_json="[]", check_mode=False,
                        only_new_commits=False, missed_policy="run_once", enabled=True)  # fmt: skip
    schedule.created_at = schedule.updated_at = now
    _set_timing(schedule, given, now)
    _set_run_fields(schedule, given)
    _set_options(schedule, given)
    _check_fields(schedule, project, environment, given)
    session.add(schedule)
    session.flush()
    audit.record(session, "schedule.create", "schedule", schedule.id, describe_fields(schedule))
    return schedule


def update(session: Session, schedule_id: int, given: Mapping[str, Any], now: dt.datetime | None = None) -> Schedule:
    """Change a schedule's fields; a new timing, or a resume, counts from now (what passed while it was paused
    is not run afterwards)."""
    now = now or utcnow()
    _shape_check(given)
    schedule = get(session, schedule_id)
    project, environment = _target(session, schedule)
    if any(name in given for name in TIMING_FIELDS):
        timing_now = {name: getattr(schedule, name) for name in ("cron", "timezone")}
        timing_now["at"] = iso(schedule.at)
        if "cron" in given:
            timing_now["at"] = None
        if "at" in given:
            timing_now["cron"] = None
        _set_timing(schedule, {**timing_now, **given}, now)
    was_enabled = schedule.enabled
    _set_run_fields(schedule, given)
    _set_options(schedule, given)
    _check_fields(schedule, project, environment, given)
    if schedule.enabled and not was_enabled:
        _resume(session, schedule, now)
    schedule.updated_at = now
    audit.record(session, "schedule.update", "schedule", schedule.id, {"fields": sorted(given)})
    return schedule


def owner_principal(session: Session, owner: str) -> Principal | str:
    """The owner's permissions now, or why they have none (gone, deactivated)."""
    user = session.scalar(select(User).where(User.name == owner))
    if user is None:
        return f"its owner {owner} no longer exists"
    if not user.active:
        return f"its owner {owner} is deactivated"
    return users.principal(user)


def deploy_refusal(principal: Principal, project_id: int, project: str, environment: str, protected: bool) -> str:
    """Why the owner may not deploy there ("" if they may)."""
    try:
        permissions.require_deploy(principal, project_id, project, environment, protected)
    except Forbidden as error:
        return f"its owner may no longer deploy to {project}/{environment}: {error.message}"
    return ""


def targets_refusal(principal: Principal, project_id: int, project: str, targets: tuple[Target, ...]) -> str:
    """Why the owner may not deploy to every one of ``targets`` ("" if they may)."""
    for environment, protected in targets:
        refusal = deploy_refusal(principal, project_id, project, environment, protected)
        if refusal:
            return refusal
    return ""


def owner_refusal(session: Session, owner: str, project: Project, environment: Environment) -> str:
    """Why ``owner`` may not deploy there now ("" if they may): their permissions, not the saver's."""
    principal = owner_principal(session, owner)
    if isinstance(principal, str):
        return principal
    return deploy_refusal(principal, project.id, project.name, environment.name, environment.protected)


def schedule_refusal(session: Session, schedule: Schedule) -> str:
    """Why the schedule's owner may not deploy where it reaches now ("" if they may)."""
    principal = owner_principal(session, schedule.owner)
    if isinstance(principal, str):
        return principal
    project, _ = _target(session, schedule)
    return targets_refusal(principal, project.id, project.name, targets(session, schedule))


def targets(session: Session, schedule: Schedule) -> tuple[Target, ...]:
    """Where the schedule deploys: its environment, or every environment its pipeline's steps reach."""
    project, environment = _target(session, schedule)
    if environment is not None:
        return ((environment.name, environment.protected),)
    return pipeline_targets(project, pipelines.get(session, schedule.pipeline_id or 0))


def pipeline_targets(project: Project, pipeline: Pipeline) -> tuple[Target, ...]:
    protected = {environment.name: environment.protected for environment in project.environments}
    # An environment missing from the project counts as protected: only a release manager reaches it.
    return tuple((name, protected.get(name, True)) for name in pipelines.targets(pipeline.steps))


def _resume(session: Session, schedule: Schedule, now: dt.datetime) -> None:
    refusal = schedule_refusal(session, schedule)
    if refusal:
        raise Conflict(f"schedule {schedule.id} cannot resume: {refusal}")
    schedule.paused_reason = ""
    schedule.next_fire_at = timing.first_time(schedule, now)
    if schedule.next_fire_at is None:
        raise Conflict(f"schedule {schedule.id} ran once at {schedule.at} already: give it a new time to resume it")


def delete(session: Session, schedule_id: int) -> None:
    schedule = get(session, schedule_id)
    audit.record(session, "schedule.delete", "schedule", schedule.id, describe_fields(schedule))
    session.delete(schedule)


def get(session: Session, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} does not exist")
    return schedule


def _target(session: Session, schedule: Schedule) -> tuple[Project, Environment | None]:
    """Its project, and the environment it deploys (None: a pipeline's schedule)."""
    project = session.get_one(Project, schedule.project_id)
    if schedule.environment_id is None:
        return project, None
    return project, session.get_one(Environment, schedule.environment_id)


def target_names(session: Session, schedule_id: int) -> tuple[str, list[str], str]:
    """Project, the environments it reaches, and the owner: for the caller's permission checks."""
    schedule = get(session, schedule_id)
    project, _ = _target(session, schedule)
    return project.name, [name for name, _ in targets(session, schedule)], schedule.owner


def _name(given: Mapping[str, Any], field: str) -> str:
    value = given.get(field)
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "is required")
    return value


def list_schedules(session: Session, project: str | None = None) -> list[Schedule]:
    query = select(Schedule).order_by(Schedule.id)
    if project is not None:
        query = query.where(Schedule.project_id == projects.get_project(session, project).id)
    return list(session.scalars(query))


def describe_fields(schedule: Schedule) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "owner": schedule.owner,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "at": iso(schedule.at),
        "version": schedule.version,
        "ref": schedule.ref,
        "extra_vars": schedule.extra_vars,
        "limit": schedule.limit,
        "tags": schedule.tags,
        "check": schedule.check_mode,
        "only_new_commits": schedule.only_new_commits,
        "missed_policy": schedule.missed_policy,
        "enabled": schedule.enabled,
        "paused_reason": schedule.paused_reason,
        "next_fire_at": iso(schedule.next_fire_at),
    }


def fire_dict(fire: ScheduleFire) -> dict[str, Any]:
    return {
        "fire_time": iso(fire.fire_time),
        "fired_at": iso(fire.fired_at),
        "outcome": fire.outcome,
        "run_id": fire.run_id,
        "pipeline_run_id": fire.pipeline_run_id,
        "reason": fire.reason,
    }


def describe(session: Session, schedule: Schedule, fires: bool = False) -> dict[str, Any]:
    """The schedule as the API shows it, with its last fire; ``fires``: its last ``RECENT_FIRES`` fires too."""
    project, environment = _target(session, schedule)
    pipeline = pipelines.get(session, schedule.pipeline_id) if schedule.pipeline_id is not None else None
    data = {
        "project": project.name,
        "environment": environment.name if environment else None,
        "pipeline": pipeline.name if pipeline else None,
        **describe_fields(schedule),
    }
    recent = [
        fire_dict(fire)
        for fire in session.scalars(
            select(ScheduleFire)
            .where(ScheduleFire.schedule_id == schedule.id)
            .order_by(ScheduleFire.fire_time.desc())
            .limit(RECENT_FIRES if fires else 1)
        )
    ]
    data["last_fire"] = recent[0] if recent else None
    if fires:
        data["fires"] = recent
    return data


def describe_list(session: Session, project: str | None = None) -> list[dict[str, Any]]:
    """``describe`` of every schedule (of ``project``), in six queries however many there are."""
    schedules = list_schedules(session, project)
    project_names = {row.id: row.name for row in session.execute(select(Project.id, Project.name))}
    environment_names = {row.id: row.name for row in session.execute(select(Environment.id, Environment.name))}
    pipeline_names = {row.id: row.name for row in session.execute(select(Pipeline.id, Pipeline.name))}
    latest = (
        select(ScheduleFire.schedule_id, func.max(ScheduleFire.fire_time).label("fire_time"))
        .group_by(ScheduleFire.schedule_id)
        .subquery()
    )
    last_fires = {
        fire.schedule_id: fire_dict(fire)
        for fire in session.scalars(
            select(ScheduleFire).join(
                latest,
                (latest.c.schedule_id == ScheduleFire.schedule_id) & (latest.c.fire_time == ScheduleFire.fire_time),
            )
        )
    }
    return [
        {
            "project": project_names[schedule.project_id],
            "environment": environment_names.get(schedule.environment_id or 0),
            "pipeline": pipeline_names.get(schedule.pipeline_id or 0),
            **describe_fields(schedule),
            "last_fire": last_fires.get(schedule.id),
        }
        for schedule in schedules
    ]
