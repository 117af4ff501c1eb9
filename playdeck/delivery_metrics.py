"""Delivery metrics of a project over the last N days (the DORA measures), per day.

- deploy frequency: successful deploys per day;
- duration: mean duration of the successful deploys of each day;
- change failure rate: deploys that failed (failed, timeout, error, lost) over all finished deploys;
- time to restore: from the first failed deploy of an environment to the next successful deploy there.

A successful deploy that was rolled back (a later run is its ``rollback_of``, and started) was a failed change:
it counts as a failure, its outage begins when it finished, and it restores nothing; the rollback's success
(like any later success there) ends the outage.

Only real deploys count: check-mode (dry) runs change nothing and canceled runs were never judged.
Every number comes from a few aggregate queries over the project's finished runs in the window (the
``ix_runs_project_state`` index), so the cost does not grow with the number of events or other projects.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from playdeck.errors import ValidationError
from playdeck.models import Environment, Project, Run, utcnow
from playdeck.runs.conditions import RunTable, is_real_deploy, is_successful
from playdeck.runs.states import RunState
from playdeck.serializers import iso

WINDOWS_DAYS = (30, 90)
FAILURE_STATES = (RunState.FAILED, RunState.TIMEOUT, RunState.ERROR, RunState.LOST)
JUDGED_STATES = (RunState.SUCCESSFUL, *FAILURE_STATES)


@dataclass
class DayMetrics:
    day: dt.date
    deploys: int = 0
    failures: int = 0
    mean_duration_seconds: float | None = None
    # Seconds each outage that ended this day lasted.
    restores: list[float] = field(default_factory=list)

    @property
    def failure_rate(self) -> float | None:
        finished = self.deploys + self.failures
        return self.failures / finished if finished else None

    @property
    def mean_restore_seconds(self) -> float | None:
        return statistics.fmean(self.restores) if self.restores else None


@dataclass
class DeliveryMetrics:
    project: str
    environment: str | None
    days: int
    since: dt.datetime
    per_day: list[DayMetrics]
    # Environments failing now: their latest judged deploy failed, no success since.
    unrestored: int

    @property
    def deploys(self) -> int:
        return sum(day.deploys for day in self.per_day)

    @property
    def failures(self) -> int:
        return sum(day.failures for day in self.per_day)

    @property
    def deploys_per_day(self) -> float:
        return self.deploys / self.days

    @property
    def change_failure_rate(self) -> float | None:
        finished = self.deploys + self.failures
        return self.failures / finished if finished else None

    @property
    def mean_duration_seconds(self) -> float | None:
        weighted = [(day.mean_duration_seconds, day.deploys) for day in self.per_day if day.mean_duration_seconds]
        total = sum(count for _, count in weighted)
        return sum(mean * count for mean, count in weighted) / total if total else None

    @property
    def median_restore_seconds(self) -> float | None:
        restores = [seconds for day in self.per_day for seconds in day.restores]
        return statistics.median(restores) if restores else None

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "environment": self.environment,
            "days": self.days,
            "since": iso(self.since),
            "deploys": self.deploys,
            "failures": self.failures,
            "deploys_per_day": self.deploys_per_day,
            "change_failure_rate": self.change_failure_rate,
            "mean_duration_seconds": self.mean_duration_seconds,
            "median_restore_seconds": self.median_restore_seconds,
            "unrestored": self.unrestored,
            "per_day": [
                {
                    "day": day.day.isoformat(),
                    "deploys": day.deploys,
                    "failures": day.failures,
                    "failure_rate": day.failure_rate,
                    "mean_duration_seconds": day.mean_duration_seconds,
                    "mean_restore_seconds": day.mean_restore_seconds,
                }
                for day in self.per_day
            ],
        }


def parse_days(value: str | None) -> int:
    if value in (None, ""):
        return WINDOWS_DAYS[0]
    if value not in {str(days) for days in WINDOWS_DAYS}:
        raise ValidationError("days", f"must be one of {', '.join(map(str, WINDOWS_DAYS))}, got '{value}'")
    return int(value)


def _seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds, in SQL: MariaDB and SQLite spell it differently."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.timestampdiff(literal_column("SECOND"), start, end)


def _as_date(value: Any) -> dt.date:
    # DATE() is a date on MariaDB and text on SQLite.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _as_datetime(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _judged(project: Project, environment: Environment | None) -> list[ColumnElement[bool]]:
    """The deploys the metrics judge: real (not check mode), finished, of the project (and environment)."""
    judged = [
        Run.project_id == project.id,
        is_real_deploy(),
        Run.state.in_([str(state) for state in JUDGED_STATES]),
        Run.finished_at.is_not(None),
    ]
    if environment is not None:
        judged.append(Run.environment_id == environment.id)
    return judged


def _rolled_back_ids(session: Session, project: Project, since: dt.datetime) -> list[int]:
    """The runs of the project a rollback started for in the window (rollbacks are few: a short list, read
    once, instead of a correlated lookup per run on an unindexed column)."""
    return list(
        session.scalars(
            select(Run.rollback_of_id)
            .where(
                Run.project_id == project.id,
                Run.queued_at >= since,
                Run.rollback_of_id.is_not(None),
                Run.started_at.is_not(None),
            )
            .distinct()
        )
    )


def _good(run: RunTable, rolled_back: list[int]) -> ColumnElement[bool]:
    """A successful deploy that stayed: not rolled back."""
    return and_(is_successful(run), run.id.not_in(rolled_back))


def _bad(rolled_back: list[int]) -> ColumnElement[bool]:
    """A failed change: a deploy that failed, or a successful one that was rolled back."""
    return or_(Run.state.in_([str(state) for state in FAILURE_STATES]), Run.id.in_(rolled_back))


def _count_days(
    session: Session,
    judged: list[ColumnElement[bool]],
    since: dt.datetime,
    per_day: dict[dt.date, DayMetrics],
    rolled_back: list[int],
) -> None:
    """Deploys, failures and the mean duration of the successful ones, per day, into ``per_day``."""
    day = func.date(Run.finished_at)
    succeeded = _good(Run, rolled_back)
    daily = session.execute(
        select(
            day,
            func.sum(case((succeeded, 1), else_=0)),
            func.sum(case((succeeded, 0), else_=1)),
            func.avg(case((succeeded, _seconds_between(session, Run.started_at, Run.finished_at)), else_=None)),
        )
        .where(*judged, Run.finished_at >= since)
        .group_by(day)
    )
    for bucket, deploys, failures, mean_duration in daily:
        metrics = per_day.get(_as_date(bucket))
        if metrics is not None:
            metrics.deploys, metrics.failures = int(deploys or 0), int(failures or 0)
            metrics.mean_duration_seconds = float(mean_duration) if mean_duration is not None else None


def _count_restores(
    session: Session,
    judged: list[ColumnElement[bool]],
    since: dt.datetime,
    per_day: dict[dt.date, DayMetrics],
    rolled_back: list[int],
) -> int:
    """Each outage's time to restore, on the day it was restored, into ``per_day``; the outages not restored."""
    # Time to restore: each failure is paired with the next success in its environment; the failures
    # sharing that success are one outage, which began at the earliest of them.
    success = aliased(Run)
    restored_at = (
        select(func.min(success.finished_at))
        .where(
            success.environment_id == Run.environment_id,
            is_real_deploy(success),
            _good(success, rolled_back),
            success.finished_at > Run.finished_at,
        )
        .correlate(Run)
        .scalar_subquery()
    )
    failures = (
        select(
            Run.environment_id.label("environment_id"),
            Run.finished_at.label("failed_at"),
            restored_at.label("restored_at"),
        )
        .where(*judged, _bad(rolled_back), Run.finished_at >= since)
        .subquery()
    )
    outages = session.execute(
        select(failures.c.restored_at, func.min(failures.c.failed_at)).group_by(
            failures.c.environment_id, failures.c.restored_at
        )
    )
    unrestored = 0
    for restored, began in outages:
        if restored is None:
            unrestored += 1
            continue
        restored, began = _as_datetime(restored), _as_datetime(began)
        metrics = per_day.get(restored.date())
        if metrics is not None:
            metrics.restores.append((restored - began).total_seconds())
    return unrestored


def delivery_metrics(
    session: Session,
    project: Project,
    days: int,
    environment: Environment | None = None,
    now: dt.datetime | None = None,
) -> DeliveryMetrics:
    """The metrics of the ``days`` calendar days (UTC) up to and including today."""
    today = (now or utcnow()).date()
    first_day = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first_day, dt.time())
    judged = _judged(project, environment)
    per_day = {
        first_day + dt.timedelta(days=offset): DayMetrics(first_day + dt.timedelta(days=offset))
        for offset in range(days)
    }
    rolled_back = _rolled_back_ids(session, project, since)
    _count_days(session, judged, since, per_day, rolled_back)
    unrestored = _count_restores(session, judged, since, per_day, rolled_back)
    return DeliveryMetrics(
        project=project.name,
        environment=environment.name if environment is not None else None,
        days=days,
        since=since,
        per_day=list(per_day.values()),
        unrestored=unrestored,
    )
