"""Read models shared by the API and the pages.

Each opens one short session and returns the plain JSON shapes of ``playdeck.serializers``, so a
template never touches an ORM object whose session has closed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from playdeck.auth.permissions import Principal
from playdeck.db import Executor, connection_scope, session_scope
from playdeck.delivery_metrics import delivery_metrics
from playdeck.errors import NotFound
from playdeck.launch_form import LaunchForm
from playdeck.launch_inputs import form_for
from playdeck.models import Environment, Project
from playdeck.projects import get_environment, get_project, is_built_in, list_projects, project_environments
from playdeck.release_control import approvals, freeze_rule, freeze_windows, promotion
from playdeck.releases import deployments, host_versions, rollback
from playdeck.releases.deploy_guide import GuideFacts, read_facts
from playdeck.runs import failure_summary, queries
from playdeck.runs.progress import RunFacts, run_progress, runs_progress
from playdeck.runs.queries import RunFilters, RunPage, get_run, list_runs
from playdeck.runs.relaunch import relaunch_request
from playdeck.runs.requests import RunRequest, resolve, submit_run
from playdeck.runs.states import real_deploy
from playdeck.runs.transitions import request_cancel
from playdeck.serializers import iso, project_json, run_json
from webui.params import parse_filters, parse_page

JsonDict = dict[str, Any]
# The project page shows this many deployed versions per environment (all of one environment: a page).
DEPLOYMENTS_SHOWN = 5
# The dashboard shows this many runs in progress; more are one click away on the runs page.
ACTIVE_RUNS_SHOWN = 20


def projects_json(include_archived: bool = False) -> list[JsonDict]:
    with session_scope() as session:
        return [project_json(project) for project in list_projects(session, include_archived)]


_PROJECT_NAMES = select(Project.name).order_by(Project.name)  # built once: see playdeck.runs.queries._runs_query


def _project_names(session: Executor) -> list[str]:
    return list(session.scalars(_PROJECT_NAMES))


def project_names() -> list[str]:
    """For the runs page's project filter: the names alone (not every project with its environments)."""
    with session_scope() as session:
        return _project_names(session)


def _with_id(project: Project) -> JsonDict:
    """The project's JSON and its id, which membership (``Principal.project_ids``) is checked by."""
    return {**project_json(project), "id": project.id}


def deploy_target(name: str) -> tuple[JsonDict, LaunchForm]:
    """The project and its launch form, as a deploy's submission is checked against: one short session."""
    with session_scope() as session:
        project = get_project(session, name)
        return _with_id(project), form_for(project)


@dataclass(frozen=True)
class DeployFormFacts:
    """What the deploy form shows from the database: the project, its launch form, where each environment
    stands with freeze windows now (current and next window), and what its guide reads."""

    project: JsonDict
    launch: LaunchForm
    freeze: dict[str, JsonDict]
    guide: GuideFacts


def deploy_form(name: str) -> DeployFormFacts:
    """All in one short session, the project loaded once: four sessions each loading it were two thirds of
    the form's CPU (issue 24)."""
    with session_scope() as session:
        project = get_project(session, name)
        found = freeze_windows.statuses_json(session, [env.id for env in project.environments])
        freeze = {env.name: found[env.id] for env in project.environments}
        return DeployFormFacts(_with_id(project), form_for(project), freeze, read_facts(session, project))


def edit_source(run_id: int, project_name: str) -> JsonDict:
    """ "Edit and relaunch": a run of ``project_name`` as the deploy form is pre-filled from it, with the names of
    its secret inputs (their values are not kept). 404 for another project's run or a built-in's."""
    with session_scope() as session:
        run = get_run(session, run_id)
        if run.project.name != project_name or is_built_in(project_name):
            raise NotFound(f"run {run_id} is not a deploy of project '{project_name}'")
        return {**run_json(run), "secret_var_names": run.secret_var_names}


def run_detail(run_id: int) -> JsonDict:
    """The run with its host summaries and its approval decisions (who, when, comment)."""
    with session_scope() as session:
        return {**run_json(get_run(session, run_id)), "approvals": approvals.decisions(session, run_id)}


def approval_panel(run_id: int, principal: Principal) -> JsonDict:
    """The run page's approvals: the decisions so far, who may decide, and whether the viewer may."""
    with session_scope() as session:
        return approvals.panel(session, get_run(session, run_id), principal)


def decide(run_id: int, principal: Principal, decision: str, comment: object) -> JsonDict:
    """Approve or reject a run awaiting approval; the run as the API shows it. An approval that completes the
    run queues it and sends it to the workers after the commit."""
    with session_scope() as session:
        approvals.decide(session, run_id, principal, decision, comment)
    return run_detail(run_id)


def cancel_run(run_id: int, by: str, force: bool = False) -> JsonDict:
    """Cancel (queued: at once; running: the worker stops it; force: at once); 409 once ended. A run
    waiting for the environment's lock is sent after the commit."""
    with session_scope() as session:
        return run_json(request_cancel(session, run_id, by, force))


def submit(request: RunRequest) -> JsonDict:
    """Queue a run: recorded, committed, then sent to the workers (a refusing broker is a 503, the run
    recorded); the run as the API shows it."""
    request = resolve(request)  # before the transaction: it may fetch a git project's mirror
    with session_scope() as session:
        run_id = submit_run(session, request).id
    return run_detail(run_id)


def roll_back(
    project_name: str, environment_name: str, by: str, to_run: object = None, freeze_override: object = ""
) -> JsonDict:
    """Roll the environment back (``playdeck.releases.rollback``): queued like any deploy, held to the freeze
    rule like one (``freeze_override``: a release manager's reason to roll back inside a window). The caller
    has checked that ``by`` may deploy there."""
    with session_scope() as session:
        project = get_project(session, project_name)
        environment = get_environment(project, environment_name)
        request = rollback.rollback_request(session, project, environment, requested_by=by, to_run=to_run)
    return submit(_overriding(request, freeze_override))


def _overriding(request: RunRequest, freeze_override: object) -> RunRequest:
    """The request with a freeze override's reason, checked (role, a window in effect) by the freeze rule
    when the run is requested, as a deploy's is."""
    request.freeze_override = freeze_rule.override_reason(freeze_override)
    return request


def relaunch_run(run_id: int, hosts: str, by: str) -> JsonDict:
    """Queue a new run with a finished run's parameters (``hosts="failed"``: only where it failed)."""
    with session_scope() as session:
        request = relaunch_request(session, run_id, hosts, requested_by=by)
    # Its own transaction, committed before the run is dispatched.
    return submit(request)


def promote_run(
    run_id: int, to: object, by: str, may_deploy: promotion.DeployCheck, freeze_override: object = ""
) -> JsonDict:
    """Queue a deploy of a successful run's commit and parameters to environment ``to`` of its project, once
    ``may_deploy`` has let ``by`` deploy there (``freeze_override``: as for ``roll_back``)."""
    with session_scope() as session:
        request = promotion.promotion_request(session, run_id, to, requested_by=by, may_deploy=may_deploy)
    return submit(_overriding(request, freeze_override))


def run_promotions(run: JsonDict) -> JsonDict:
    """The run page's promotion part, for a successful real deploy (others have none and offer none): the runs
    promoted from it, and its project's id and other environments (the view keeps those the caller may
    deploy to)."""
    if promotion.refusal(run["id"], run["kind"], run["state"], run["check"]):
        return {"promoted_to": [], "project_id": None, "targets": []}
    with connection_scope() as connection:
        found = promotion.options(connection, run["project"], run["id"])
    targets = [env for env in found.environments if env["name"] != run["environment"]]
    return {"promoted_to": found.promoted_to, "project_id": found.project_id, "targets": targets}


def _listing(session: Executor, args: Mapping[str, str], per_page: int) -> RunPage:
    # Bad filters are refused before the first query: no connection is taken for them.
    return list_runs(session, parse_filters(dict(args)), page=parse_page(args.get("page")), per_page=per_page)


def runs_listing(args: Mapping[str, str], per_page: int) -> RunPage:
    """One page of runs for query-string filters, each run the JSON text the database rendered."""
    with connection_scope() as connection:
        return _listing(connection, args, per_page)


def run_page(args: Mapping[str, str], per_page: int) -> JsonDict:
    """The runs page's read model from one connection: ``runs_listing`` for the template (``runs``, the JSON
    texts ``webui.run_rows`` renders, ``page``, ``per_page``, ``has_next``) and the ``project_names``
    its filter offers."""
    with connection_scope() as connection:
        listing = _listing(connection, args, per_page)
        names = _project_names(connection)
    return {
        "runs": listing.runs,
        "page": listing.page,
        "per_page": listing.per_page,
        "has_next": listing.has_next,
        "project_names": names,
    }


def dashboard() -> list[JsonDict]:
    """Every project with, per environment, its latest run and its deployed run (``None`` if none), what its
    hosts run now and where it stands with freeze windows. Not the built-in dns project: nobody deploys it,
    its zones' regenerations are on the DNS pages. Only what the page shows, as columns: one statement per
    kind of cell, whatever the number of environments."""
    with connection_scope() as connection:
        listed = [row for row in project_environments(connection) if not is_built_in(row.project)]
        environment_ids = [row.environment_id for row in listed if row.environment_id is not None]
        latest, deployed = queries.latest_runs(connection, environment_ids)
        freezes = freeze_windows.statuses_json(connection, environment_ids)
        hosts = host_versions.environment_hosts(connection, environment_ids)
    rows: dict[int, JsonDict] = {}
    for listing in listed:
        row = rows.get(listing.project_id) or rows.setdefault(listing.project_id, _dashboard_row(listing))
        if listing.environment_id is None:
            continue
        environment_id, name = listing.environment_id, listing.environment
        row["project"]["environments"].append({"name": name, "protected": listing.protected})
        row["latest"][name] = _latest_json(latest.get(environment_id))
        row["deployed"][name] = _deployed_json(deployed.get(environment_id))
        row["freeze"][name] = freezes[environment_id]
        # What each host runs now; an environment no run recorded hosts for shows its deployed run.
        row["hosts"][name] = _hosts_cell(hosts[environment_id])
    return list(rows.values())


def _hosts_cell(hosts: list[host_versions.HostVersion]) -> JsonDict:
    """What the pages draw of an environment's hosts (``_host_versions.html``): ``environment_json``, whether
    they run different versions (``mixed``: each host is listed) and else the host the newest run switched
    (the last one of that run: its link)."""
    shown = host_versions.environment_json(hosts)
    newest = None
    for host in shown["hosts"]:
        if newest is None or host["run"] >= newest["run"]:
            newest = host
    return {**shown, "mixed": len({host["label"] for host in shown["hosts"]}) > 1, "newest": newest}


def _dashboard_row(listing: Any) -> JsonDict:
    project = {"id": listing.project_id, "name": listing.project, "description": listing.description}
    return {"project": {**project, "environments": []}, "latest": {}, "deployed": {}, "freeze": {}, "hosts": {}}


def _latest_json(run: Any) -> JsonDict | None:
    """The latest run's cell: ``run_json``'s keys for ``queries.LATEST_RUN_COLUMNS``."""
    if run is None:
        return None
    return {"id": run.id, "state": run.state, "version": run.version, "queued_at": iso(run.queued_at)}


def _deployed_json(run: Any) -> JsonDict | None:
    """The deployed run's cell: ``run_json``'s keys for ``queries.DEPLOYED_RUN_COLUMNS``."""
    if run is None:
        return None
    return {"id": run.id, "version": run.version, "ref": run.ref, "commit": run.commit_sha,
            "commit_subject": run.commit_subject, "finished_at": iso(run.finished_at)}  # fmt: skip


def active_runs(limit: int = ACTIVE_RUNS_SHOWN) -> list[JsonDict]:
    """Queued and running runs, oldest first: id, project, environment, state, who asked, and its progress
    (see ``playdeck.runs.progress``), all of them in three statements."""
    with connection_scope() as connection:
        rows = queries.active_run_rows(connection, limit)
        facts = [RunFacts(*row[5:], host_summaries=()) for row in rows]
        found = runs_progress(connection, facts) if facts else []
    keys = ("id", "project", "environment", "state", "requested_by")
    return [
        {**dict(zip(keys, row[:5], strict=False)), "progress": progress}
        for row, progress in zip(rows, found, strict=True)
    ]


def progress(run_id: int) -> JsonDict:
    with session_scope() as session:
        return run_progress(session, get_run(session, run_id))


def run_with_progress(run_id: int) -> tuple[JsonDict, JsonDict]:
    """The run page's two read models: ``run_json(run)`` (and, once it ended, ``_outcome``) and
    ``run_progress``, from one connection."""
    with connection_scope() as connection:
        row = queries.run_page_row(connection, run_id)
        summaries = connection.execute(host_versions.RUN_RECAP, {"run_id": run_id}).all()
        text, *facts, stored_summary = row
        run = RunFacts(*facts, host_summaries=summaries)
        progress = run_progress(connection, run)
        shown = json.loads(text)
        if shown["terminal"]:
            shown.update(_outcome(connection, shown, run.environment_id, stored_summary, summaries))
    return {**shown, "host_summaries": [summary._asdict() for summary in summaries]}, progress


def _outcome(
    connection: Executor, run: JsonDict, environment_id: int, stored_summary: str | None, summaries: list[Any]
) -> JsonDict:
    """An ended run's ``failure_summary`` and, for a real deploy, what it did to its hosts (``host_changes``,
    see ``host_versions.run_changes``)."""
    changes = None
    if real_deploy(run["kind"], run["check"], run.get("playbook")):
        changes = host_versions.run_changes(connection, summaries, environment_id)
    return {
        "failure_summary": failure_summary.for_run(run["state"], run["reason"], stored_summary),
        "host_changes": changes,
    }


def project_page(name: str, days: int, environment: str | None, per_page: int) -> JsonDict:
    """A project, its latest runs and its delivery metrics over ``days`` (in one environment, or all)."""
    with session_scope() as session:
        project = get_project(session, name)
        env = get_environment(project, environment) if environment else None
        metrics = delivery_metrics(session, project, days, env)
        history = list_runs(session, RunFilters(project=name, environment=environment), page=1, per_page=per_page)
        shown = [env] if env is not None else project.environments
        return {
            "project": _with_id(project),
            "deployed_versions": {
                item.name: [
                    row.to_json()
                    for row in deployments.history(session, item, DEPLOYMENTS_SHOWN if env is None else None)[0]
                ]
                for item in shown
            },
            "hosts": {
                item.name: _hosts_cell(found) for item, found in zip(shown, _hosts_of(session, shown), strict=True)
            },
            "metrics": metrics,
            "runs": history.runs,  # JSON texts, for webui.run_rows
            "more_runs": history.has_next,
        }


def _hosts_of(session: Executor, environments: list[Environment]) -> list[list[host_versions.HostVersion]]:
    found = host_versions.environment_hosts(session, [env.id for env in environments])
    return [found[env.id] for env in environments]
