"""Tables of schedules: what runs by itself and when (``schedules``), and each fire time once it has been
decided (``schedule_fires``): its run, or why it ran nothing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from playdeck.model_base import NEVER_REUSE_IDS, Base, BigId, Timestamp, utcnow


class Schedule(Base):
    """A deploy of a project's environment (or a run of one of its pipelines) on a cron expression in a time
    zone, or once at ``at``, requested as its owner with its own parameters."""

    __tablename__ = "schedules"
    __table_args__ = (
        # The firing pass: enabled schedules whose next time has come.
        Index("ix_schedules_enabled_next", "enabled", "next_fire_at"),
        Index("ix_schedules_project", "project_id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # Exactly one of: the environment it deploys, or the pipeline it starts (a pipeline run at its ref/version).
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    pipeline_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE", name="fk_schedules_pipeline_id_pipelines")
    )
    # The user its runs are requested as, with their permissions when it fires.
    owner: Mapped[str] = mapped_column(String(100))
    # Exactly one of cron (with timezone) and at (naive UTC).
    cron: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # The run's own fields, as a run request takes them.
    version: Mapped[str] = mapped_column(String(128), default="")
    ref: Mapped[str] = mapped_column(String(255), default="")
    extra_vars_json: Mapped[str] = mapped_column(Text, default="{}")
    limit: Mapped[str] = mapped_column("host_limit", String(512), default="")
    tags_json: Mapped[str] = mapped_column(Text, default="[]")
    check_mode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Git projects: fire only when the ref's commit differs from the last scheduled deploy's.
    only_new_commits: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_commit_sha: Mapped[str | None] = mapped_column(String(64))
    # Fire times that passed while no scheduler ran: "run_once" runs the latest of them, "skip" none.
    missed_policy: Mapped[str] = mapped_column(String(10), default="run_once", server_default="run_once")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Why it paused itself (its owner may no longer deploy there); "" when paused by a person or running.
    paused_reason: Mapped[str] = mapped_column(Text, default="")
    # Naive UTC; None once a one-off schedule has fired.
    next_fire_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)

    @property
    def extra_vars(self) -> dict[str, Any]:
        return json.loads(self.extra_vars_json or "{}")

    @property
    def tags(self) -> list[str]:
        return json.loads(self.tags_json or "[]")


class ScheduleFire(Base):
    """One fire time of a schedule, decided once: the unique (schedule, fire time) key, inserted in the same
    transaction as the run, is what keeps several schedulers from running it twice."""

    __tablename__ = "schedule_fires"
    __table_args__ = (UniqueConstraint("schedule_id", "fire_time", name="uq_schedule_fires_schedule_time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    # The schedule's time (naive UTC), and when a scheduler acted on it.
    fire_time: Mapped[dt.datetime] = mapped_column(Timestamp)
    fired_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    # run | skipped | refused | paused
    outcome: Mapped[str] = mapped_column(String(10))
    run_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("runs.id", ondelete="SET NULL", name="fk_schedule_fires_run_id_runs")
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    # A pipeline's schedule: the pipeline run this fire started.
    pipeline_run_id: Mapped[int | None] = mapped_column(BigId)
