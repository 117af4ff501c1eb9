"""The HTML pages: projects dashboard, project page, deploy form, run list and the live run page."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for

from playdeck.auth.permissions import Action
from playdeck.delivery_metrics import WINDOWS_DAYS, parse_days
from playdeck.errors import Conflict, NotFound, ValidationError
from playdeck.projects import is_built_in
from playdeck.releases.deploy_guide import deploy_guide
from playdeck.runs.events import EVENTS_PER_PAGE
from playdeck.runs.states import RunState
from playdeck.serializers import HOST_SUMMARY_FIELDS
from playdeck.settings import get_settings
from webui import access, authorize, confirmation, queries
from webui.attention import attention_json, page_with_error
from webui.charts import delivery_charts
from webui.form_errors import FormErrors, form_errors
from webui.formatting import FILTERS
from webui.forms import DeployForm, run_version_label
from webui.links import run_href, run_link
from webui.origin import require_same_origin
from webui.run_rows import run_rows
from webui.runlog import log_text

bp = Blueprint("pages", __name__)
for _name, _filter in FILTERS.items():
    bp.add_app_template_filter(_filter, _name)
for _name, _global in authorize.TEMPLATE_GLOBALS.items():
    bp.add_app_template_global(_global, _name)
bp.add_app_template_global(run_rows)
bp.add_app_template_global(run_href)
bp.add_app_template_global(run_link)
bp.add_app_template_global(run_version_label)
# Playdeck starts a built-in project's runs itself: no page offers to deploy or relaunch them.
bp.add_app_template_global(is_built_in, "built_in_project")

# Log lines (events) the run page shows at first, and loads at a time on demand; the whole log is a download.
LOG_TAIL = EVENTS_PER_PAGE
HOST_SUMMARY_COLUMNS = HOST_SUMMARY_FIELDS[1:]  # after the host


@bp.app_context_processor
def _template_constants() -> dict[str, object]:
    return {"host_summary_columns": HOST_SUMMARY_COLUMNS}


def _require_same_origin() -> None:
    require_same_origin("deploys can only be started, canceled or relaunched from Playdeck's own pages")


@bp.get("/")
@access.rule(Action.READ)
def dashboard() -> str:
    return render_template(
        "dashboard.html", rows=queries.dashboard(), active=queries.active_runs(), attention=attention_json()
    )


@bp.get("/dashboard/active")
@access.rule(Action.READ)
def dashboard_active() -> str:
    """The dashboard's "in progress" section alone, for a client that wants just that part (the page
    itself refreshes its data-live sections from the whole page, live.js)."""
    return render_template("_active_runs.html", active=queries.active_runs(), attention=attention_json())


@bp.get("/projects/<name>")
@access.rule(Action.READ)
def project(name: str) -> str:
    days = parse_days(request.args.get("days"))
    environment = request.args.get("environment") or None
    page = queries.project_page(name, days, environment, get_settings().runs_per_page)
    return render_template(
        "project.html",
        **page,
        days=days,
        environment=environment,
        windows=WINDOWS_DAYS,
        charts=delivery_charts(page["metrics"]),
    )


def _deploy_page(
    facts: queries.DeployFormFacts, form: DeployForm, errors: FormErrors | None = None, **context: object
) -> str:
    project = facts.project
    # Only the environments the caller may deploy to are offered (the submission is checked anyway).
    environments = [env for env in project["environments"] if authorize.may_deploy(project["id"], env)]
    errors = errors or FormErrors()
    return render_template(
        "deploy.html", project=project, environments=environments, form=form, launch=facts.launch,
        guide=deploy_guide(facts.guide), errors=errors, error_field=errors.first_field,
        error_variable=None, freeze=facts.freeze, **context,
    )  # fmt: skip


# The form and its submission are separate views so that each declares its own access rule.
@bp.get("/projects/<name>/deploy")
@access.rule(Action.READ)
def deploy(name: str) -> str:
    """``?environment=``: preselected; ``?from_run=ID``: "Edit and relaunch", the form filled in from that run."""
    facts = queries.deploy_form(name)
    from_run = request.args.get("from_run", "")
    if from_run.isdigit():
        form = DeployForm.from_run(queries.edit_source(int(from_run), name), facts.launch)
    else:
        form = DeployForm(environment=request.args.get("environment", ""))
    return _deploy_page(facts, form, edited_run=int(from_run) if from_run.isdigit() else None)


def _needs_confirmation(project: queries.JsonDict, form: DeployForm) -> bool:
    protected = {env["name"] for env in project["environments"] if env.get("protected")}
    return form.environment in protected and form.confirm != form.environment


@bp.post("/projects/<name>/deploy")
@access.rule(Action.DEPLOY)
def submit_deploy(name: str) -> Response | tuple[str, int]:
    project, launch = queries.deploy_target(name)
    _require_same_origin()
    form = DeployForm.from_form(request.form)
    try:
        authorize.refuse_actor_fields(request.form, "requested_by")
        authorize.require_deploy(name, form.environment)
        run_request = form.to_request(name, authorize.actor(), launch)
        if _needs_confirmation(project, form):
            # No JavaScript (or a hand-made post): the form again, with the box that confirms it.
            raise ValidationError("confirm", f"'{form.environment}' is protected: confirm this deploy below")
        run = queries.submit(run_request)
    # The project exists (it was loaded above), so NotFound here means the environment.
    except (ValidationError, NotFound) as exc:
        errors = form_errors(exc, {field.name: field.title for field in launch.fields}, "environment")
        return _deploy_page(queries.deploy_form(name), form, errors, ask_confirm="confirm" in errors.by_field), 400
    # Frozen (a freeze window, an override with none in effect), archived: the reason, and the form again.
    except Conflict as exc:
        errors = form_errors(exc, {}, "freeze_override")
        return _deploy_page(queries.deploy_form(name), form, errors), 409
    return redirect(url_for("pages.run", run_id=run["id"]), 303)


@bp.post("/projects/<name>/environments/<environment>/rollback")
@access.rule(Action.DEPLOY)
def rollback(name: str, environment: str) -> Response:
    """The environment's "Roll back" button: a deploy of the commit before the current one, then its run page."""
    _require_same_origin()
    authorize.refuse_actor_fields(request.form, "requested_by")
    authorize.require_deploy(name, environment)
    # Inside a freeze window: refused (409, naming it) unless a release manager gave a reason to override it.
    run = queries.roll_back(
        name, environment, authorize.actor(), freeze_override=request.form.get("freeze_override", "")
    )
    return redirect(url_for("pages.run", run_id=run["id"]), 303)


@bp.get("/runs")
@access.rule(Action.READ)
def runs() -> tuple[str, int]:
    page, error = None, None
    try:
        page = queries.run_page(request.args, get_settings().runs_per_page)
    except ValidationError as exc:
        error = exc.message

    def page_url(number: int) -> str:
        return url_for("pages.runs", **{**request.args.to_dict(), "page": number})

    return render_template(
        "runs.html",
        page=page,
        error=error,
        filters=request.args,
        states=list(RunState),
        project_names=page["project_names"] if page else queries.project_names(),
        page_url=page_url,
    ), 400 if error else 200


def _promotions(run: queries.JsonDict) -> queries.JsonDict:
    promotions = queries.run_promotions(run)
    # Only the environments the caller may deploy to are offered (the submission is checked anyway).
    promotions["targets"] = [
        env for env in promotions["targets"] if authorize.may_deploy(promotions["project_id"], env)
    ]
    return promotions


def run_page(run_id: int, error: str | None = None) -> str:
    run, progress = queries.run_with_progress(run_id)
    # Read only for a run that needed approvals: every other run page stays within its statement budget.
    approval = queries.approval_panel(run_id, access.principal()) if run.get("approvals_required") else {}
    return render_template(
        "run.html",
        run=run,
        progress=progress,
        promotions=_promotions(run),
        approval=approval,
        log_tail=LOG_TAIL,
        error=error,
    )


@bp.get("/runs/<int:run_id>")
@access.rule(Action.READ)
def run(run_id: int) -> str:
    return run_page(run_id)


def _ask(run_id: int, question: str, button: str) -> tuple[str, int]:
    run = queries.run_detail(run_id)
    facts = [("Run", f"#{run_id}"), ("Project", run["project"]), ("Environment", run["environment"]),
             ("Version", run_version_label(run)), ("Hosts", run["limit"] or "all")]  # fmt: skip
    return confirmation.ask(question, facts, button, url_for("pages.run", run_id=run_id))


@bp.post("/runs/<int:run_id>/cancel")
@access.rule(Action.CANCEL)
def cancel(run_id: int) -> Response | tuple[str, int]:
    return _cancel(run_id, force=False)


@bp.post("/runs/<int:run_id>/force-cancel")
@access.rule(Action.FORCE_CANCEL)
def force_cancel(run_id: int) -> Response | tuple[str, int]:
    """Recorded canceled at once, for a run whose worker has vanished (release managers)."""
    return _cancel(run_id, force=True)


def _cancel(run_id: int, force: bool) -> Response | tuple[str, int]:
    # Back to /attention when the button was there; any other value is the run page (never a URL).
    from_attention = request.form.get("return_to") == "attention" or force
    _require_same_origin()
    authorize.refuse_actor_fields(request.form, "canceled_by")
    authorize.require_cancel(run_id, force=force)
    if not confirmation.confirmed():
        return _ask(run_id, "Cancel this run? Its playbook is stopped where it is.", "Cancel run")
    try:
        queries.cancel_run(run_id, authorize.actor(), force=force)
    except Conflict as exc:
        return (page_with_error(exc.message) if from_attention else run_page(run_id, exc.message)), 409
    return redirect(
        url_for("attention.page" if from_attention else "pages.run", run_id=None if from_attention else run_id), 303
    )


@bp.post("/runs/<int:run_id>/relaunch")
@access.rule(Action.RELAUNCH)
def relaunch(run_id: int) -> Response | tuple[str, int]:
    _require_same_origin()
    authorize.refuse_actor_fields(request.form, "requested_by")
    if not confirmation.confirmed():
        hosts = "its failed hosts" if request.form.get("hosts") == "failed" else "the same hosts"
        return _ask(run_id, f"Relaunch this run on {hosts}, with the same parameters?", "Relaunch")
    try:
        new_run = queries.relaunch_run(run_id, request.form.get("hosts", "all"), authorize.actor())
    # Still running, nothing failed, or refused by the project as it is now: say so on the run page.
    except (Conflict, ValidationError) as exc:
        return run_page(run_id, exc.message), exc.status_code
    return redirect(url_for("pages.run", run_id=new_run["id"]), 303)


@bp.get("/runs/<int:run_id>/promotion")
@access.rule(Action.READ)
def run_promotion(run_id: int) -> str:
    """The run page's promotion part alone: run.js swaps it in when the run it follows succeeds."""
    run = queries.run_detail(run_id)
    return render_template("_promotion.html", run=run, promotions=_promotions(run))


@bp.post("/runs/<int:run_id>/promote")
@access.rule(Action.DEPLOY)
def promote(run_id: int) -> Response | tuple[str, int]:
    """The run page's "Promote to" control: a deploy of this run's commit to the chosen environment."""
    _require_same_origin()
    authorize.refuse_actor_fields(request.form, "requested_by")
    try:
        new_run = queries.promote_run(run_id, request.form.get("to", ""), authorize.actor(), authorize.deploy_check(),
                                      request.form.get("freeze_override", ""))  # fmt: skip
    # Not promotable, or refused by the target's rules (requires success elsewhere, a freeze window): say so
    # on the run page.
    except (Conflict, ValidationError) as exc:
        return run_page(run_id, exc.message), exc.status_code
    return redirect(url_for("pages.run", run_id=new_run["id"]), 303)


@bp.get("/runs/<int:run_id>/log.txt")
@access.rule(Action.READ)
def run_log(run_id: int) -> Response:
    queries.run_detail(run_id)  # 404 before the body starts
    # The whole log however long: streamed a page of events at a time, saved as a file.
    return Response(
        log_text(run_id),
        mimetype="text/plain",
        headers={"Content-Disposition": f'inline; filename="run-{run_id}.log"'},
    )
