"""What a person, a program or the platform asks for when it asks for a run (validated by ``requests``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from playdeck.runs.states import RunKind


@dataclass
class RunRequest:
    project: str
    environment: str
    version: str = ""
    extra_vars: dict[str, Any] = field(default_factory=dict)
    limit: str = ""
    tags: list[str] = field(default_factory=list)
    check: bool = False
    requested_by: str = "anonymous"
    kind: str = RunKind.DEPLOY
    # Seconds; None means the project's limit. Never more than the project allows.
    timeout: int | None = None
    idle_timeout: int | None = None
    relaunch_of: int | None = None
    # A rollback: the run whose deploy this one undoes (playdeck.releases.rollback).
    rollback_of: int | None = None
    # Naive UTC; the broker holds the run's message until then. Set by the system (DNS scheduling).
    not_before: dt.datetime | None = None
    # True only from Playdeck's own callers (DNS scheduling, retries of lost runs): a run of a built-in
    # project, of another kind than a deploy, with the platform's variables. Whatever a person or a
    # program launches (API, web form, CLI, relaunch) leaves it False.
    platform: bool = False
    # Git projects: the branch, tag or commit to deploy ("": the project's branch). ``resolve`` resolves it
    # (``playdeck.runs.source_refs``) and fills in the commit; a relaunch or a rollback names its commit itself.
    ref: str = ""
    commit_sha: str | None = None
    commit_subject: str = ""
    # A release manager's reason for deploying inside a freeze window ("": no override).
    freeze_override: str = ""
    # A promotion: the successful run whose commit and parameters this deploy takes to another environment.
    promoted_from: int | None = None
    # A pipeline's step (playdeck.pipelines.engine): its pipeline run and step, and the playbook of the
    # project's source it runs instead of the project's own (None: the project's). Set by the engine only.
    pipeline_run_id: int | None = None
    pipeline_step: str | None = None
    playbook: str | None = None
