"""What the deploy form shows beside its fields: per environment what runs there now and its hosts (for
Limit), the versions deployed lately (for Version) and the playbook's tags (for Tags).

The database is read in the caller's short session (``read_facts``, beside what else the form reads); the
hosts and tags come from Ansible afterwards, outside any transaction (``deploy_guide``, with
``playdeck.projects.form_hints`` caching them).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from playdeck.commit_label import short_sha
from playdeck.models import Project, Run
from playdeck.projects import form_hints
from playdeck.runs.conditions import is_real_deploy, is_successful
from playdeck.runs.queries import deployed_release
from playdeck.settings import get_settings

RECENT_VERSIONS = 10
# Deploys looked at for the recent versions (several may share a version).
RECENT_DEPLOYS_READ = 100


@dataclass(frozen=True)
class EnvironmentGuide:
    name: str
    protected: bool
    # What its last successful real deploy shipped ("" if nothing yet): its version, ref and commit.
    current_version: str = ""
    current_ref: str = ""
    current_commit: str = ""
    current_run: int | None = None
    hosts: form_hints.Hints = field(default_factory=form_hints.Hints)

    @property
    def now_running(self) -> str:
        """ "1.4.2", "main @ 3f2a9c1d0e4b" or "" (nothing deployed yet)."""
        if self.current_run is None:
            return ""
        label = " @ ".join(part for part in (self.current_ref, short_sha(self.current_commit or None) or "") if part)
        return ", ".join(part for part in (self.current_version, label) if part) or f"run #{self.current_run}"


@dataclass(frozen=True)
class DeployGuide:
    environments: dict[str, EnvironmentGuide]
    recent_versions: list[str]
    tags: form_hints.Hints


@dataclass(frozen=True)
class GuideFacts:
    """What the guide reads from the database: enough to call Ansible afterwards."""

    is_git: bool
    playbook: str
    environments: list[dict[str, Any]]
    recent_versions: list[str]


# Built once, values as parameters (see playdeck.runs.queries._runs_query).
_RECENT_VERSIONS = (
    select(Run.version)
    .where(Run.project_id == bindparam("project_id"), is_real_deploy(), is_successful(), Run.version != "")
    .order_by(Run.id.desc())
    .limit(RECENT_DEPLOYS_READ)
)


def read_facts(session: Session, project: Project) -> GuideFacts:
    """The project's environments (with what each runs now) and its recent versions; ``project`` as loaded
    by ``get_project``, in the session the caller reads the rest of the form with."""
    environments = []
    for environment in project.environments:
        # Its four columns in one statement, not its id and then the run as an entity (45 columns).
        run = deployed_release(session, environment.id)
        environments.append({
            "name": environment.name, "protected": environment.protected,
            "inline": environment.inline_inventory, "inventory": environment.inventory,
            "current_version": run.version if run else "", "current_ref": run.ref if run else "",
            "current_commit": (run.commit_sha or "") if run else "", "current_run": run.id if run else None,
        })  # fmt: skip
    versions = session.scalars(_RECENT_VERSIONS, {"project_id": project.id})
    recent = list(dict.fromkeys(versions))[:RECENT_VERSIONS]
    return GuideFacts(project.is_git, project.playbook, environments, recent)


def _all_hints(lookups: list[form_hints.Lookup]) -> list[form_hints.Hints]:
    """Each lookup's hints: read in this thread when every one is cached (a pool started on every load was a
    tenth of the page's time; issue 24), else computed at the same time in a pool."""
    known = [hints for lookup in lookups if (hints := lookup.known()) is not None]
    if len(known) == len(lookups):
        return known
    with ThreadPoolExecutor(max_workers=4) as pool:
        computing = [pool.submit(lookup.hints) for lookup in lookups]
        return [future.result() for future in computing]


def deploy_guide(read: GuideFacts) -> DeployGuide:
    """Call with no transaction open: it may run Ansible for a few seconds on a first (uncached) read, each
    environment's inventory and the playbook at the same time."""
    settings = get_settings()
    tags, *hosts = _all_hints(
        [form_hints.tags_lookup(read.playbook, read.is_git, settings.playbook_dir)]
        + [
            form_hints.hosts_lookup(env.pop("inline"), env.pop("inventory"), read.is_git, settings.inventory_dir)
            for env in read.environments
        ]
    )
    environments = {
        env["name"]: EnvironmentGuide(**env, hosts=found) for env, found in zip(read.environments, hosts, strict=True)
    }
    return DeployGuide(environments, read.recent_versions, tags)
