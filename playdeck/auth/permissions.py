"""Roles and what each may do — one table, enforced alike by the web UI, the API and the CLI.

Every route declares an ``Action`` (``webui.access``); the role alone decides whether the route is open
to the caller (``allows``). Some actions also depend on the object, checked where it is loaded:
a developer deploys only the projects they belong to and never to a protected environment, and
cancels only their own runs; a DNS editor edits only the zones granted to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from playdeck.errors import Forbidden


class Role(StrEnum):
    VIEWER = "viewer"
    DEVELOPER = "developer"
    RELEASE_MANAGER = "release_manager"
    ADMIN = "admin"


RANK = {Role.VIEWER: 0, Role.DEVELOPER: 1, Role.RELEASE_MANAGER: 2, Role.ADMIN: 3}


class Action(StrEnum):
    READ = "read"  # runs, logs, projects, zones, records, history
    DEPLOY = "deploy"  # request a run (project membership, protected environments: per object)
    CANCEL = "cancel"  # a developer their own runs, a release manager any
    FORCE_CANCEL = "force_cancel"
    RELAUNCH = "relaunch"
    APPROVE = "approve"  # approve or reject a run awaiting approval: whom its environment names (per object)
    EDIT_RECORDS = "edit_records"  # records of the zones granted (any role can be granted a zone)
    MANAGE_ZONES = "manage_zones"  # create, configure, delete zones
    EDIT_PROJECTS = "edit_projects"  # a project's source, playbook, environments (release managers: those granted)
    MANAGE_FREEZES = "manage_freezes"  # add, change, delete freeze windows (reading them: READ)
    OVERRIDE_FREEZE = "override_freeze"  # deploy inside a freeze window, with a reason
    ADMIN = "admin"  # users, roles, grants, tokens of others, workers


# The least role an action is open to; per-object checks narrow it further.
LEAST_ROLE = {
    Action.READ: Role.VIEWER,
    Action.DEPLOY: Role.DEVELOPER,
    Action.CANCEL: Role.DEVELOPER,
    Action.FORCE_CANCEL: Role.RELEASE_MANAGER,
    Action.RELAUNCH: Role.RELEASE_MANAGER,
    # An environment may name any user as an approver; playdeck.release_control.approvals decides per run.
    Action.APPROVE: Role.VIEWER,
    Action.EDIT_RECORDS: Role.VIEWER,
    Action.MANAGE_ZONES: Role.ADMIN,
    Action.EDIT_PROJECTS: Role.RELEASE_MANAGER,
    Action.MANAGE_FREEZES: Role.RELEASE_MANAGER,
    Action.OVERRIDE_FREEZE: Role.RELEASE_MANAGER,
    Action.ADMIN: Role.ADMIN,
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as plain values (read once per request, no ORM object held)."""

    id: int
    name: str
    role: Role
    project_ids: frozenset[int] = frozenset()
    zones: frozenset[str] = frozenset()
    # The API token the caller came with (None: a login session): a token it makes is its child.
    token_id: int | None = None

    def at_least(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]


def allows(principal: Principal, action: Action) -> bool:
    return principal.at_least(LEAST_ROLE[action])


def require(principal: Principal, action: Action) -> None:
    if not allows(principal, action):
        raise Forbidden(f"{action.value.replace('_', ' ')} needs the {LEAST_ROLE[action].value} role or higher")


def require_deploy(principal: Principal, project_id: int, project: str, environment: str, protected: bool) -> None:
    require(principal, Action.DEPLOY)
    if principal.at_least(Role.RELEASE_MANAGER):
        return
    if project_id not in principal.project_ids:
        raise Forbidden(f"{principal.name} is not a member of project {project}")
    if protected:
        raise Forbidden(f"environment {environment} is protected: deploying there needs a release manager")


def require_cancel(principal: Principal, requested_by: str) -> None:
    require(principal, Action.CANCEL)
    if not principal.at_least(Role.RELEASE_MANAGER) and requested_by != principal.name:
        raise Forbidden("a developer cancels only their own runs; ask a release manager")


def require_zone_editor(principal: Principal, zone: str) -> None:
    """``zone``: the stored name (absolute, lowercase, trailing dot)."""
    if principal.at_least(Role.ADMIN) or zone in principal.zones:
        return
    raise Forbidden(f"{principal.name} may not edit the records of zone {zone}")


def require_project_editor(principal: Principal, project_id: int, project: str) -> None:
    """Admins edit every project; a release manager the projects granted to them (``user grant --project``)."""
    require(principal, Action.EDIT_PROJECTS)
    if principal.at_least(Role.ADMIN) or project_id in principal.project_ids:
        return
    raise Forbidden(f"{principal.name} may not edit project {project}: it is not granted to them")
