"""Tables of pipelines: a project's definitions (``pipelines``), their runs (``pipeline_runs``: the commit
resolved once at the start) and each run's steps (``pipeline_step_runs``: one row per step, its current run)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from playdeck.model_base import NEVER_REUSE_IDS, Base, BigId, Timestamp, utcnow


class Pipeline(Base):
    """A project's named chain of steps (``playdeck.pipelines.definition`` says what a step is)."""

    __tablename__ = "pipelines"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_pipelines_project_name"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    # The validated steps, a JSON list in order; the first is where a run starts.
    steps_json: Mapped[str] = mapped_column(Text, default="[]")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)

    @property
    def steps(self) -> list[dict[str, Any]]:
        return json.loads(self.steps_json or "[]")


class PipelineRun(Base):
    """One run of a pipeline. Its steps are a copy of the definition when it started (an edit of the pipeline
    changes later runs, not this one, nor its resumes), and its commit is resolved once, at the start."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (
        Index("ix_pipeline_runs_pipeline", "pipeline_id", "id"),
        Index("ix_pipeline_runs_state", "state"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default="running")
    steps_json: Mapped[str] = mapped_column(Text, default="[]")
    # Git projects: the ref asked for and the commit it named at the start; a directory project's version.
    ref: Mapped[str] = mapped_column(String(255), default="")
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    commit_subject: Mapped[str] = mapped_column(String(255), default="")
    version: Mapped[str] = mapped_column(String(128), default="")
    requested_by: Mapped[str] = mapped_column(String(100), default="")
    # The first step that failed since the last (re)start: the run ends failed even if a failure edge led on.
    failed_step: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    resumes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)

    step_runs: Mapped[list[PipelineStepRun]] = relationship(order_by="PipelineStepRun.position")

    @property
    def steps(self) -> list[dict[str, Any]]:
        return json.loads(self.steps_json or "[]")


class PipelineStepRun(Base):
    """A step of a pipeline run: its state and its current run (a resume gives it a new one; the older runs
    keep their link to the pipeline run and the step, ``Run.pipeline_run_id``/``pipeline_step``)."""

    __tablename__ = "pipeline_step_runs"
    __table_args__ = (
        UniqueConstraint("pipeline_run_id", "step", name="uq_pipeline_step_runs_run_step"),
        # The advancing pass reads the steps whose run is in flight.
        Index("ix_pipeline_step_runs_state", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pipeline_run_id: Mapped[int] = mapped_column(BigId, ForeignKey("pipeline_runs.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    # No foreign key: a purged run leaves the step's history (as rollback_of_id, migration 0019).
    run_id: Mapped[int | None] = mapped_column(BigId)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
