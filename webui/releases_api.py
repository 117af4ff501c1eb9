"""A project's releases in the JSON API: the refs a deploy can name, what a ref would ship to an environment,
the environment's deployed versions, rolling it back, and the push hook git servers call.

``/api/v1/projects/<project>/refs`` and ``…/environments/<environment>/changes|deployments|rollback`` need a
login or a token like the rest of the API; ``…/git-hook`` is called by a git server with neither: it is
verified by the project's webhook secret (``playdeck.releases.push_deploys``) and has no session, so no CSRF.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from playdeck import audit
from playdeck.auth.permissions import Action
from playdeck.db import session_scope
from playdeck.errors import ValidationError
from playdeck.releases import deployments, push_deploys, ref_listing, shipping
from webui import access, authorize, queries
from webui.created import created
from webui.origin import require_same_origin
from webui.params import int_param
from webui.payloads import optional_json_body

bp = Blueprint("releases_api", __name__, url_prefix="/api/v1/projects/<project>")
ENVIRONMENT = "/environments/<environment>"
MAX_RUN_ID = 2**63 - 1
# The largest push payload taken (413 above): a push of a few commits is a few KB; GitHub caps its own at 25 MB.
MAX_PUSH_BYTES = 1024 * 1024
# Who the audit log names for a push hook request until its deploy is requested as the hook user.
HOOK_ACTOR = "git-hook"


@bp.get("/refs")
@access.rule(Action.READ)
def list_refs(project: str) -> Response:
    """Branches and tags, newest commit first (the default branch first), whose name contains ``q``."""
    limit = int_param("limit", request.args.get("limit"), ref_listing.DEFAULT_LIMIT, 1, ref_listing.MAX_LIMIT)
    return jsonify(ref_listing.list_refs(project, request.args.get("q"), limit).to_json())


@bp.get(f"{ENVIRONMENT}/changes")
@access.rule(Action.READ)
def changes(project: str, environment: str) -> Response:
    """What deploying ``ref`` to the environment ships, compared with its deployed commit."""
    ref = request.args.get("ref", "")
    if not ref:
        raise ValidationError("ref", "is required: a branch, tag or commit")
    return jsonify(shipping.what_will_ship(project, environment, ref))


@bp.get(f"{ENVIRONMENT}/deployments")
@access.rule(Action.READ)
def list_deployments(project: str, environment: str) -> Response:
    """The environment's deployed versions, newest first; ``before`` (a run id) pages back."""
    limit = int_param("limit", request.args.get("limit"), deployments.DEFAULT_PAGE, 1, deployments.MAX_PAGE)
    before = request.args.get("before")
    before_id = int_param("before", before, 0, 1, MAX_RUN_ID) if before else None
    with session_scope() as session:
        history = deployments.environment_history(session, project, environment, limit, before_id)
    return jsonify(history)


@bp.post(f"{ENVIRONMENT}/rollback")
@access.rule(Action.DEPLOY)
def roll_back(project: str, environment: str) -> tuple[Response, int]:
    """201 with the rollback run; body (optional) ``{"to_run": id, "freeze_override": "reason"}``. 409 when there
    is nothing to roll back to, or inside a freeze window without an override (403 for one from a developer)."""
    # A rollback starts a deploy: refuse what a cross-site page can send (as for a relaunch).
    require_same_origin("rollbacks can only be started from Playdeck's own pages or through the API")
    body = optional_json_body(("to_run", "freeze_override"), '{"to_run": RUN_ID, "freeze_override": "REASON"}')
    authorize.require_deploy(project, environment)
    override = body.get("freeze_override", "")
    run = queries.roll_back(project, environment, authorize.actor(), body.get("to_run"), override)
    return created(run, "api.get_run_json", run_id=run["id"])


@bp.post("/git-hook")
@access.public
def git_hook(project: str) -> tuple[Response, int]:
    """A push from GitHub, Gitea or GitLab: 202 with the run it queued, 200 when nothing is deployed, 401 for a
    missing or wrong signature, 400 for a payload that is not a push, 413 for one over the size limit."""
    request.max_content_length = MAX_PUSH_BYTES
    body = request.get_data(cache=False)
    with audit.acting_as(HOOK_ACTOR, request.remote_addr or ""):
        answer = push_deploys.handle_push(project, request.headers, body)
    return jsonify(answer.to_json()), answer.status
