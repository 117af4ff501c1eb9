"""The data model shared by the web UI and the runners."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

# The DNS and account tables live in their own packages; importing them here puts them in Base.metadata
# (Alembic), beside this module's, for whoever imports the data model.
from playdeck.auth import models as _auth_models  # noqa: F401
from playdeck.auth.sso import models as _sso_models  # noqa: F401
from playdeck.dns import models as _dns_models  # noqa: F401

# Re-exported: the data model's base, column types and clock, as every module has imported them from here.
from playdeck.model_base import NEVER_REUSE_IDS, Base, BigId, LongText, Timestamp, utcnow
from playdeck.notifications import models as _notification_models  # noqa: F401
from playdeck.pipelines import models as _pipeline_models  # noqa: F401
from playdeck.schedules import models as _schedule_models  # noqa: F401


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Relative to the playbook directory (directory projects) or to the checkout (git projects).
    playbook: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    # A run is stopped ("timeout") after this long, and after this long without output; a run may ask
    # for less, never more. 0 turns the idle timeout off.
    run_timeout_seconds: Mapped[int] = mapped_column(Integer, default=3600, server_default="3600")
    idle_timeout_seconds: Mapped[int] = mapped_column(Integer, default=600, server_default="600")
    # At most one running deploy per environment; later ones wait in "queued".
    lock_deploys: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # A newer run queued for an environment cancels the older ones still waiting there.
    supersede_queued: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How many times a run that ended "lost" (its worker died) is started again automatically, each
    # time as a new run linked to the lost one. 0 (the default) for deploys: re-running a deploy that
    # stopped halfway is a person's decision. Idempotent work (DNS regeneration) turns it on.
    retry_lost_runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The launch form its admins declared (a JSON list of fields, playdeck.launch_form); None: the file
    # beside the playbook declares it, if there is one (playdeck.launch_inputs).
    launch_form_json: Mapped[str | None] = mapped_column(Text)
    # With a form, launches may also pass variables it does not declare (name-checked like any).
    allow_free_extra_vars: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Where the playbook and inventories come from (playdeck.projects.registry): "directory", the server's
    # playbook and inventory dirs (the sample, the built-in dns project, installs from before 0019), or "git",
    # a commit of git_url checked out per run. Paths (playbook, inventories) are relative to that source.
    source_kind: Mapped[str] = mapped_column(String(16), default="directory", server_default="directory")
    # Git projects only. The URL carries no credential: the SSH key or the password/token is a project
    # secret (playdeck.secrets GIT_SSH_KEY, GIT_PASSWORD), the user name for HTTPS beside it here.
    git_url: Mapped[str | None] = mapped_column(String(2048))
    # The default ref of a deploy that names none.
    git_branch: Mapped[str | None] = mapped_column(String(255))
    git_username: Mapped[str] = mapped_column(String(255), default="", server_default="")
    # The mirror is not fetched again when it was fetched less than this long ago (AWX's
    # scm_update_cache_timeout); 0 fetches for every run.
    git_cache_seconds: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    git_submodules: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # known_hosts lines of an SSH git server: its host key is checked, never trusted on first use.
    git_known_hosts: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Deploy on push (the git hook): branch -> environment, a JSON object; None or {} deploys nothing.
    branch_environments_json: Mapped[str | None] = mapped_column(Text)
    # Start a pipeline on push (the git hook): branch -> pipeline name, a JSON object; None or {}: none.
    branch_pipelines_json: Mapped[str | None] = mapped_column(Text)
    # The label the vault password is given to ansible (--vault-id LABEL@file); "" for the default id.
    vault_id: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # Archived: kept with its runs, hidden from lists, never deployed again.
    archived_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)

    environments: Mapped[list[Environment]] = relationship(
        back_populates="project", order_by="Environment.name", cascade="all, delete-orphan"
    )

    @property
    def branch_environments(self) -> dict[str, str]:
        return json.loads(self.branch_environments_json or "{}")

    @property
    def branch_pipelines(self) -> dict[str, str]:
        return json.loads(self.branch_pipelines_json or "{}")

    @property
    def is_git(self) -> bool:
        return self.source_kind == "git"


class Environment(Base):
    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_environment_project_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # Relative to the inventory directory (directory projects) or to the checkout (git projects); "" with
    # an inline inventory.
    inventory: Mapped[str] = mapped_column(String(255))
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    # The broker queue this environment's deploys go to (None: the kind's default queue). Workers that
    # can reach the environment's hosts (a datacenter, a network zone) consume that queue.
    queue: Mapped[str | None] = mapped_column(String(64))
    # known_hosts lines for the environment's SSH targets: host keys are checked, never trusted blindly.
    known_hosts: Mapped[str] = mapped_column(Text, default="", server_default="")

    # An inventory kept here (INI or YAML, checked with ansible-inventory when saved) instead of the file
    # ``inventory`` names ("" then); None: the file.
    inline_inventory: Mapped[str | None] = mapped_column(Text)
    # The environment's variables as a YAML mapping, set by the project's editors ("" for none).
    variables_yaml: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The environment of the same project (by name) where a commit (a directory project's version) must have
    # succeeded before it is deployed here ("production accepts only what succeeded in staging"); None: no rule.
    # Checked by playdeck.release_control.required_success.
    requires_success_in: Mapped[str | None] = mapped_column(String(100))
    # Approvals (playdeck.release_control.approvals): 0 for none, else how many people must approve a
    # deploy before it is queued; who may (roles, user names: JSON lists); how long a request waits.
    approvals_required: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    approver_roles_json: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    approver_users_json: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    approval_timeout_seconds: Mapped[int] = mapped_column(Integer, default=86400, server_default="86400")
    rollback_skips_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    project: Mapped[Project] = relationship(back_populates="environments")

    @property
    def approver_roles(self) -> list[str]:
        return json.loads(self.approver_roles_json or "[]")

    @property
    def approver_users(self) -> list[str]:
        return json.loads(self.approver_users_json or "[]")

    @property
    def known_hosts_entries(self) -> int:
        # Stored normalised (playdeck.environments.parse_known_hosts): one host key per line.
        return len(self.known_hosts.splitlines())


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_state", "state"),
        Index("ix_runs_project_state", "project_id", "state"),
        # A DNS change asks whether its zone (environment) has a run queued: many runs, few queued.
        Index("ix_runs_environment_state", "environment_id", "state"),
        Index("ix_runs_queued_at", "queued_at"),
        # The runs list filtered by requester ("my runs"), newest first (migration 0012).
        Index("ix_runs_requested_by", "requested_by"),
        # The run page links a run to the promotions made from it (migration 0022).
        Index("ix_runs_promoted_from_id", "promoted_from_id"),
        # The expiry pass and /attention read the runs awaiting approval by their deadline (migration 0027).
        Index("ix_runs_state_approval_expires_at", "state", "approval_expires_at"),
        # A pipeline run's page lists its steps' runs (migration 0029).
        Index("ix_runs_pipeline_run_id", "pipeline_run_id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20), default="deploy")
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    version: Mapped[str] = mapped_column(String(128), default="")
    # JSON objects/lists kept as text so SQLite and MySQL store them alike.
    extra_vars_json: Mapped[str] = mapped_column(Text, default="{}")
    # "limit" is an SQL keyword; the column gets a plainer name.
    limit: Mapped[str] = mapped_column("host_limit", String(512), default="")
    tags_json: Mapped[str] = mapped_column(Text, default="[]")
    # The launch form's secret fields this run was given: extra_vars shows them masked; their values are
    # kept encrypted for the worker (playdeck.launch_inputs) until the run ends, then dropped.
    secret_var_names_json: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    secret_vars_sealed: Mapped[str | None] = mapped_column(Text)
    check_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by: Mapped[str] = mapped_column(String(100), default="")
    queue: Mapped[str] = mapped_column(String(64), default="deploy")

    state: Mapped[str] = mapped_column(String(20), default="queued")
    # Why the run ended as it did, in words a person can act on ("worker heartbeat stale", ...).
    reason: Mapped[str] = mapped_column(Text, default="")
    queued_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    # Last time a message for this run was sent to the broker (the reaper re-sends lost ones).
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # Its message is held by the broker until then (a zone's regenerations are spaced so a burst of
    # changes shares a few runs); None: as soon as a worker is free.
    not_before: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    started_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    cancel_requested_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    canceled_by: Mapped[str | None] = mapped_column(String(100))

    worker_host: Mapped[str | None] = mapped_column(String(255))
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    playbook_pid: Mapped[int | None] = mapped_column(Integer)
    rc: Mapped[int | None] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    # Per-run limits, at most the project's (None: the project's).
    timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    idle_timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    # The run this one relaunches (same parameters, or only its failed hosts).
    relaunch_of_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("runs.id", ondelete="SET NULL", name="fk_runs_relaunch_of_id_runs")
    )
    # Git projects: the branch, tag or commit the deploy asked for, and the commit it was resolved to when
    # queued (the run executes exactly that commit, even if the branch moves meanwhile); "" / None for a
    # directory project.
    ref: Mapped[str] = mapped_column(String(255), default="", server_default="")
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    commit_subject: Mapped[str] = mapped_column(String(255), default="", server_default="")
    # A rollback: the run whose deploy this one undoes (it deploys the commit before that run's).
    # No foreign key: SQLite cannot add one to the runs table without copying it (migration 0019).
    rollback_of_id: Mapped[int | None] = mapped_column(BigId)
    # A promotion: the successful run (of another environment) whose commit and parameters this one deploys.
    # No foreign key, as for rollback_of_id (migration 0022).
    promoted_from_id: Mapped[int | None] = mapped_column(BigId)
    # A release manager's reason for deploying inside a freeze window ("": none; playdeck.release_control).
    freeze_override: Mapped[str] = mapped_column(Text, default="", server_default="")
    # 0 for a run someone asked for; n for the n-th automatic retry of a lost run (relaunch_of).
    retry_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The worker (master process) whose pool executes the run; see Worker.
    worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("workers.id", ondelete="SET NULL", name="fk_runs_worker_id_workers")
    )
    # A run that ended badly: why, per failed host, as JSON (playdeck.runs.failure_summary), written by
    # its worker when it ended; None for a good end or a run its worker did not conclude.
    failure_summary_json: Mapped[str | None] = mapped_column(LongText)
    # Approvals: how many the run needs (its environment's number when it was requested; 0: none) and has
    # had; until when it waits for them; when the last one queued it (its wait for a worker starts then).
    approvals_required: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    approvals_given: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    approval_expires_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    approved_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # A step of a pipeline run (playdeck.pipelines): the pipeline run and the step's name; no foreign key, as
    # for rollback_of_id. None for a run asked for on its own.
    pipeline_run_id: Mapped[int | None] = mapped_column(BigId)
    pipeline_step: Mapped[str | None] = mapped_column(String(64))
    # Another playbook of the project's source than its own (a pipeline's smoke test step); None: the project's.
    playbook: Mapped[str | None] = mapped_column(String(255))

    project: Mapped[Project] = relationship()
    environment: Mapped[Environment] = relationship()
    host_summaries: Mapped[list[RunHostSummary]] = relationship(
        order_by="RunHostSummary.host", cascade="all, delete-orphan"
    )

    @property
    def extra_vars(self) -> dict[str, Any]:
        return json.loads(self.extra_vars_json or "{}")

    @property
    def secret_var_names(self) -> list[str]:
        return json.loads(self.secret_var_names_json or "[]")

    @property
    def tags(self) -> list[str]:
        return json.loads(self.tags_json or "[]")

    @property
    def in_queue_since(self) -> dt.datetime:
        """When it entered the queue: when its last approval came, else when it was requested."""
        return self.approved_at or self.queued_at

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return (end - self.started_at).total_seconds()


class RunApproval(Base):
    """One person's decision on a run awaiting approval; each person decides once per run."""

    __tablename__ = "run_approvals"
    __table_args__ = (UniqueConstraint("run_id", "user_name", name="uq_run_approvals_run_user"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("runs.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(10))  # approve | reject
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class Worker(Base):
    """One Celery worker master, from its start to its exit: what ``playdeck workers`` lists.

    The master registers itself before forking its pool, beats ``heartbeat_at`` while it lives and
    records ``stopped`` when it exits; a release manager asks it to drain through ``drain_requested_at``.
    """

    __tablename__ = "workers"
    __table_args__ = (Index("ix_workers_state", "state"), Index("ix_workers_host_pid", "hostname", "pid"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # Celery's node name, e.g. deploy@web1.
    name: Mapped[str] = mapped_column(String(255))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    # Comma-separated queue names the worker consumes.
    queues: Mapped[str] = mapped_column(String(255), default="")
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    # active | draining | stopped
    state: Mapped[str] = mapped_column(String(16), default="active")
    started_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    drain_requested_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    drain_requested_by: Mapped[str | None] = mapped_column(String(100))


class DeployLock(Base):
    """Held by the one running deploy of a project's environment; deleted with its terminal state."""

    __tablename__ = "deploy_locks"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    acquired_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class RunEvent(Base):
    """One ansible event of a run. Keyed by (run, counter): InnoDB stores the rows clustered in that
    order, so a batch is appended at the end of its run and a log page is one range read, with no
    second index to maintain (migration 0013)."""

    __tablename__ = "run_events"

    run_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    counter: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    uuid: Mapped[str] = mapped_column(String(64), default="")
    event: Mapped[str] = mapped_column(String(64), default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    task: Mapped[str] = mapped_column(Text, default="")
    play: Mapped[str] = mapped_column(Text, default="")
    stdout: Mapped[str] = mapped_column(LongText, default="")
    start_line: Mapped[int] = mapped_column(Integer, default=0)
    end_line: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    event_data_json: Mapped[str] = mapped_column(LongText, default="{}")

    @property
    def event_data(self) -> dict[str, Any]:
        return json.loads(self.event_data_json or "{}")


class _LogLineColumns:
    """What the log's filters and search read of an event, and nothing else: its keys, host, outcome,
    whether it changed the host, and its output (migration 0033)."""

    # Small rows in key order, as InnoDB keeps them (SQLite: no rowid and second index to read through).
    __table_args__ = {"sqlite_with_rowid": False}

    run_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    counter: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    host: Mapped[str] = mapped_column(String(255), default="")
    event: Mapped[str] = mapped_column(String(64), default="")
    # ansible's ``res.changed`` is true (the run_events row's data says it; read there, a filter on it
    # parsed every row's JSON).
    changed: Mapped[bool] = mapped_column(Boolean, default=False)
    stdout: Mapped[str] = mapped_column(LongText, default="")


class RunEventLine(_LogLineColumns, Base):
    """Every event of ``run_events`` again, narrow (~150 bytes, not ~1 KB with its data): a search or a
    filter reads a run's lines here. A whole 200,000-event run fits MariaDB's buffer pool this way, where
    the wide rows were read from disk at each search (bench/logs.py). Written with the event, in its
    transaction (``playdeck.runs.events.store_events``); keyed like it, so a batch is appended."""

    __tablename__ = "run_event_lines"


class RunEventFailure(_LogLineColumns, Base):
    """The events that are a failure (failed, unreachable), a third time: few in any run, so "the first
    failure" and the failure filters read these rows only, whatever the run's length."""

    __tablename__ = "run_event_failures"


class RunHostSummary(Base):
    __tablename__ = "run_host_summaries"

    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    unreachable: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    rescued: Mapped[int] = mapped_column(Integer, default=0)
    ignored: Mapped[int] = mapped_column(Integer, default=0)
    # What this run switched the host to (playdeck.releases.host_versions); None: it did not switch it.
    deployed_version: Mapped[str | None] = mapped_column(String(128))
    deployed_commit: Mapped[str | None] = mapped_column(String(64))


class HostDeployment(Base):
    """What one host of an environment runs now: the version (and commit) the last run that switched it
    left there, whatever that run's end (playdeck.releases.host_versions)."""

    __tablename__ = "host_deployments"

    environment_id: Mapped[int] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[str] = mapped_column(String(128), default="")
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    # No foreign key: the run may be purged (playdeck.runs.purge) while the host still runs its version.
    run_id: Mapped[int] = mapped_column(BigId)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class AuditEvent(Base):
    """One mutation a person (or the system) made: who, from where, when, what. Append-only: written in
    the transaction of the change it records (``playdeck.audit.record``), never updated or deleted."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_actor", "actor", "id"),
        Index("ix_audit_events_action", "action", "id"),
        Index("ix_audit_events_target", "target_type", "target", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    # A user's name, or "system" for the platform's own acts (a retry after a lost run).
    actor: Mapped[str] = mapped_column(String(100))
    # The client's address for web and API requests; "cli" for shell commands; "" for the system.
    address: Mapped[str] = mapped_column(String(64), default="")
    # run.request, run.cancel, dns.records, user.create, login.failure, ...
    action: Mapped[str] = mapped_column(String(50))
    target_type: Mapped[str] = mapped_column(String(30))
    target: Mapped[str] = mapped_column(String(255))
    # What changed, as JSON (before/after, counts, parameters); never a secret.
    details_json: Mapped[str] = mapped_column(LongText, default="{}")

    @property
    def details(self) -> dict[str, Any]:
        return json.loads(self.details_json or "{}")


class Secret(Base):
    """A credential a project's runs are given: an SSH private key, a become or a vault password. Only its
    Fernet ciphertext is stored (``playdeck.secrets``, key from PLAYDECK_SECRET_KEY, never from the DB)."""

    __tablename__ = "secrets"
    # One secret of a kind per project-wide scope and per environment. MariaDB and SQLite let a unique
    # constraint hold any number of NULLs, so (project_id, environment_id, kind) would not stop two
    # project-wide rows; ``scope`` is the constrained, never-NULL copy of the environment: "" for every
    # environment of the project, else the environment's id (ids stay put when an environment is renamed).
    # Only playdeck.secrets writes rows and keeps the two columns in step.
    __table_args__ = (UniqueConstraint("project_id", "scope", "kind", name="uq_secrets_project_scope_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # None: every environment of the project; an environment's own secret of a kind wins over it.
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(20))
    # ssh_key | become_password | vault_password | git_ssh_key | git_password | webhook_secret
    kind: Mapped[str] = mapped_column(String(20))
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class Webhook(Base):
    """Where a project's run notifications go: an HTTP endpoint that receives a POST for each chosen event
    (``playdeck.webhooks``). Only the HMAC secret's Fernet ciphertext is stored, like the project secrets."""

    __tablename__ = "webhooks"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    # json | slack ({"text": ...}, what Slack's and Mattermost's incoming webhooks take)
    format: Mapped[str] = mapped_column(String(10), default="json")
    # Comma-separated: started, succeeded, failed, canceled, timeout, lost, freeze_overridden.
    events: Mapped[str] = mapped_column(String(255))
    # "": deliveries are not signed.
    secret_ciphertext: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")

    project: Mapped[Project] = relationship()


class FreezeWindow(Base):
    """When deploys are refused (``playdeck.release_control.freeze_windows``): weekly or yearly wall times in
    ``timezone`` ("Fri 16:00" – "Mon 08:00", "Dec 20" – "Jan 3"), or an ad hoc stretch between two instants,
    for one environment or (environment_id None) every environment."""

    __tablename__ = "freeze_windows"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # weekly | yearly | adhoc
    kind: Mapped[str] = mapped_column(String(10))
    # An IANA zone name (Europe/Berlin).
    timezone: Mapped[str] = mapped_column(String(64))
    # As canonical text: "Fri 16:00" (weekly), "Dec 20" or "Dec 20 18:00" (yearly); "" for an ad hoc window.
    start_spec: Mapped[str] = mapped_column(String(40), default="")
    end_spec: Mapped[str] = mapped_column(String(40), default="")
    # An ad hoc window's instants (naive UTC); None for a recurring one.
    starts_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    ends_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)

    environment: Mapped[Environment | None] = relationship()


class FreezeRevision(Base):
    """One row (id 1): a number every change of the freeze windows raises in its own transaction, so a process
    keeps the windows it read until the number it reads has moved (``playdeck.release_control.freeze_revision``)."""

    __tablename__ = "freeze_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class WebhookDelivery(Base):
    """One notification of one run event to one webhook or notification destination: recorded in the
    transaction of the run's state change (an outbox), then sent, and re-sent with backoff, by
    ``playdeck.webhook_delivery``."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The sender's poll: pending deliveries whose time has come.
        Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
        Index("ix_webhook_deliveries_destination", "destination_id", "id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Exactly one of the two is set: a project's webhook, or a routed notification's destination.
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    destination_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_destinations.id", ondelete="CASCADE", name="fk_webhook_deliveries_destination")
    )
    # None for a test delivery, which belongs to no run.
    run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("runs.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(20))
    # The body as it is sent, rendered when the event happened.
    payload: Mapped[str] = mapped_column(LongText)
    # pending | delivered | failed (given up)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Each attempt's time, status code and error, as a JSON list (at most webhook_max_attempts entries).
    attempts_json: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)

    webhook: Mapped[Webhook | None] = relationship()

    @property
    def attempt_log(self) -> list[dict[str, Any]]:
        return json.loads(self.attempts_json or "[]")
