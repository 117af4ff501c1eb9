"""The DNS pages, ``/dns``: zones and their status, the record table, record and zone forms, import,
history.

Server-rendered like the run pages. The record table reads one page (keyset cursor) however big the
zone. Every edit and delete form carries the version it was drawn with: if someone changed the record
or zone since, the form comes back with a 409 and the current values instead of overwriting them.
Every POST is refused from other sites (``webui.origin``) and needs the session's CSRF token
(``webui.access``); record edits need a grant of the zone (``webui.authorize``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from playdeck.auth.permissions import Action
from playdeck.dns import listing
from playdeck.dns.errors import StaleVersion
from playdeck.errors import Conflict, NotFound, ValidationError
from webui import access, authorize, dns_queries
from webui.dns_api import LISTING_PARAMS, MAX_ID
from webui.dns_forms import RecordForm, SettingsForm, ZoneForm, is_number, query_int, require_version
from webui.origin import require_same_origin

bp = Blueprint("dns_pages", __name__, url_prefix="/dns")

PER_PAGE = 50
HISTORY_PER_PAGE = 50
# An import preview lists this many rows of each kind, then says how many more.
PREVIEW_ROWS = 200
CROSS_SITE = "DNS changes can only be made from Playdeck's own pages or through the API"
# What a page tells a person whose edit lost a race, after the service's own sentence.
KEPT_YOURS = "Your version is kept in the form and the current one is shown; save again to replace it."

PageResult = str | tuple[str, int] | Response
# A record's fields in the order the table shows them; zone settings follow in their own order.
FIELD_ORDER = ("name", "type", "ttl", "value", "comment")


def _require_same_origin() -> None:
    require_same_origin(CROSS_SITE)


def _record_id(record_id: int) -> int:
    if record_id > MAX_ID:
        raise NotFound(f"record {record_id} does not exist")
    return record_id


def _field(exc: Exception) -> str | None:
    return getattr(exc, "field", None)


def _status(exc: Exception) -> int:
    return getattr(exc, "status_code", 400)


# --- zone list and creation ----------------------------------------------------------------------


@bp.get("")
@access.rule(Action.READ)
def zones() -> str:
    return render_template("dns_zones.html", zones=dns_queries.zone_list())


@bp.route("/new", methods=["GET", "POST"])
@access.rule(Action.MANAGE_ZONES)
def new_zone() -> PageResult:
    if request.method == "GET":
        return render_template("dns_zone_new.html", form=ZoneForm())
    _require_same_origin()
    form = ZoneForm.from_form(request.form)
    try:
        written = dns_queries.create_zone(form.fields(), authorize.actor())
    except (ValidationError, Conflict) as exc:
        page = render_template("dns_zone_new.html", form=form, error=exc.message, error_field=_field(exc))
        return page, _status(exc)
    return redirect(url_for(".zone", zone=written.data["name"]), 303)


# --- the zone page: status and the record table --------------------------------------------------


def _listing(zone_name: str) -> tuple[dns_queries.RecordListing | None, str | None]:
    args = request.args
    try:
        order = args.get("order", "asc")
        if order not in ("asc", "desc"):
            raise ValidationError("order", "must be asc or desc")
        found = dns_queries.record_listing(
            zone_name,
            search=args.get("q"),
            rtype=args.get("type") or None,
            sort=args.get("sort", "name"),
            descending=order == "desc",
            after=args.get("after") or None,
            page=None,
            per_page=query_int("per_page", PER_PAGE, 1, listing.MAX_PER_PAGE),
            param_names=LISTING_PARAMS,
        )
    except ValidationError as exc:
        return None, exc.message
    return found, None


def _zone_page(
    zone_name: str, *, form: RecordForm | None = None, error: str | None = None, error_field: str | None = None
) -> tuple[str, int]:
    found, listing_error = _listing(zone_name)
    zone = found.zone if found else dns_queries.zone_detail(zone_name)
    args = request.args.to_dict()
    sort, order = args.get("sort", "name"), args.get("order", "asc")

    def sort_url(key: str) -> str:
        flipped = "desc" if key == sort and order == "asc" else "asc"
        kept = {k: v for k, v in args.items() if k not in ("after", "sort", "order")}
        return url_for(".zone", zone=zone["name"], **kept, sort=key, order=flipped)

    next_url = first_url = None
    if found and found.has_next:
        next_url = url_for(".zone", zone=zone["name"], **{**args, "after": found.next_cursor})
    if args.get("after"):
        first_url = url_for(".zone", zone=zone["name"], **{k: v for k, v in args.items() if k != "after"})
    page = render_template(
        "dns_zone.html",
        zone=zone,
        listing=found,
        listing_error=listing_error,
        filters=args,
        sort=sort,
        order=order,
        sort_keys=dns_queries.sort_keys(),
        sort_url=sort_url,
        next_url=next_url,
        first_url=first_url,
        types=dns_queries.record_types(zone["kind"]),
        form=form or RecordForm(),
        error=error,
        error_field=error_field,
    )
    return page, 400 if listing_error else 200


@bp.get("/<zone>")
@access.rule(Action.READ)
def zone(zone: str) -> tuple[str, int]:
    return _zone_page(zone)


@bp.post("/<zone>/records")
@access.rule(Action.EDIT_RECORDS)
def create_record(zone: str) -> PageResult:
    _require_same_origin()
    authorize.require_zone_editor(zone)
    form = RecordForm.from_form(request.form)
    try:
        written = dns_queries.create_record(zone, form.fields(), authorize.actor())
    except (ValidationError, Conflict) as exc:
        page, _ = _zone_page(zone, form=form, error=exc.message, error_field=_field(exc))
        return page, _status(exc)
    record = written.data
    return redirect(url_for(".zone", zone=record["zone"], q=record["name"]), 303)


# --- one record: edit, delete --------------------------------------------------------------------


def _record_page(
    zone_name: str,
    record: dict[str, Any],
    form: RecordForm,
    *,
    error: str | None = None,
    error_field: str | None = None,
    conflict: dict[str, Any] | None = None,
) -> str:
    zone = dns_queries.zone_detail(zone_name)
    return render_template(
        "dns_record.html",
        zone=zone,
        record=record,
        form=form,
        types=dns_queries.record_types(zone["kind"]),
        error=error,
        error_field=error_field,
        conflict=conflict,
    )


def _lost_race(zone_name: str, record_id: int, form: RecordForm, exc: StaleVersion) -> tuple[str, int]:
    """The record changed since the form was drawn: show the current one, keep what the user typed,
    and draw the form at the current version so that saving again is a decision, not an accident."""
    current = dns_queries.record_detail(zone_name, record_id)
    form.version = current["version"]
    message = f"{exc.message}. {KEPT_YOURS}"
    return _record_page(zone_name, current, form, error=message, conflict=current), 409


# Showing a record and saving it are separate views so that each declares its own access rule.
@bp.get("/<zone>/records/<int:record_id>")
@access.rule(Action.READ)
def record(zone: str, record_id: int) -> PageResult:
    current = dns_queries.record_detail(zone, _record_id(record_id))
    return _record_page(zone, current, RecordForm.from_record(current))


@bp.post("/<zone>/records/<int:record_id>")
@access.rule(Action.EDIT_RECORDS)
def update_record(zone: str, record_id: int) -> PageResult:
    record_id = _record_id(record_id)
    _require_same_origin()
    authorize.require_zone_editor(zone)
    form = RecordForm.from_form(request.form)
    try:
        written = dns_queries.update_record(
            zone, record_id, require_version(form.version), form.fields(), authorize.actor()
        )
    except StaleVersion as exc:
        return _lost_race(zone, record_id, form, exc)
    except (ValidationError, Conflict) as exc:
        current = dns_queries.record_detail(zone, record_id)
        return _record_page(zone, current, form, error=exc.message, error_field=_field(exc)), _status(exc)
    updated = written.data
    return redirect(url_for(".zone", zone=updated["zone"], q=updated["name"]), 303)


@bp.post("/<zone>/records/<int:record_id>/delete")
@access.rule(Action.EDIT_RECORDS)
def delete_record(zone: str, record_id: int) -> PageResult:
    record_id = _record_id(record_id)
    _require_same_origin()
    authorize.require_zone_editor(zone)
    form = RecordForm.from_form(request.form)
    try:
        dns_queries.delete_record(zone, record_id, require_version(form.version), authorize.actor())
    except StaleVersion as exc:
        current = dns_queries.record_detail(zone, record_id)
        message = f"{exc.message}. It was not deleted; the current record is shown below."
        return _record_page(zone, current, RecordForm.from_record(current), error=message, conflict=current), 409
    except (ValidationError, Conflict) as exc:
        current = dns_queries.record_detail(zone, record_id)
        return _record_page(zone, current, RecordForm.from_record(current), error=exc.message), _status(exc)
    return redirect(url_for(".zone", zone=dns_queries.zone_detail(zone)["name"]), 303)


# --- zone settings and deletion ------------------------------------------------------------------


def _settings_page(zone: dict[str, Any], form: SettingsForm, **context: Any) -> str:
    return render_template("dns_zone_settings.html", zone=zone, form=form, **context)


@bp.route("/<zone>/settings", methods=["GET", "POST"])
@access.rule(Action.MANAGE_ZONES)
def settings(zone: str) -> PageResult:
    current = dns_queries.zone_detail(zone)
    if request.method == "GET":
        return _settings_page(current, SettingsForm.from_zone(current))
    _require_same_origin()
    form = SettingsForm.from_form(request.form)
    try:
        written = dns_queries.update_zone(
            current["name"], require_version(form.version), form.fields(current["kind"]), authorize.actor()
        )
    except StaleVersion as exc:
        fresh = dns_queries.zone_detail(zone)
        form.version = fresh["version"]
        return _settings_page(fresh, form, error=f"{exc.message}. {KEPT_YOURS}", conflict=fresh), 409
    except (ValidationError, Conflict) as exc:
        return _settings_page(current, form, error=exc.message, error_field=_field(exc)), _status(exc)
    return redirect(url_for(".zone", zone=written.data["name"]), 303)


@bp.post("/<zone>/delete")
@access.rule(Action.MANAGE_ZONES)
def delete_zone(zone: str) -> PageResult:
    _require_same_origin()
    current = dns_queries.zone_detail(zone)
    form = SettingsForm.from_form(request.form)
    if not _names_zone(request.form.get("confirm", ""), current["name"]):
        error = f"type the zone's name ({current['name']}) to confirm that it is to be deleted"
        return _settings_page(current, SettingsForm.from_zone(current), delete_error=error), 400
    try:
        dns_queries.delete_zone(current["name"], require_version(form.version), authorize.actor())
    except StaleVersion as exc:
        fresh = dns_queries.zone_detail(zone)
        message = f"{exc.message}. It was not deleted; review the current settings."
        return _settings_page(fresh, SettingsForm.from_zone(fresh), delete_error=message, conflict=fresh), 409
    return redirect(url_for(".zones"), 303)


def _names_zone(typed: str, name: str) -> bool:
    try:
        return dns_queries.zone_key(typed) == name
    except NotFound:
        return False


# --- import --------------------------------------------------------------------------------------


def _import_page(zone: dict[str, Any], **context: Any) -> str:
    context.setdefault("zonefile", "")
    context.setdefault("delete_missing", True)
    return render_template("dns_import.html", zone=zone, preview_rows=PREVIEW_ROWS, **context)


@bp.route("/<zone>/import", methods=["GET", "POST"])
@access.rule(Action.EDIT_RECORDS)
def import_zone(zone: str) -> PageResult:
    """Paste a zone file → its preview (nothing written) → "Apply" imports exactly the previewed text,
    if the zone has not changed since the preview (else a fresh preview is shown)."""
    # The form is of use only to an editor of the zone: its page is theirs too.
    authorize.require_zone_editor(zone)
    current = dns_queries.zone_detail(zone)
    if request.method == "GET":
        return _import_page(current)
    _require_same_origin()
    text = request.form.get("zonefile", "")
    delete_missing = request.form.get("delete_missing") is not None
    options = {"zonefile": text, "delete_missing": delete_missing}
    try:
        if request.form.get("action") != "apply":
            return _import_page(current, preview=dns_queries.import_preview(zone, text, delete_missing), **options)
        base = request.form.get("base_change_seq", "")
        if not is_number(base) or len(base) > 18:
            raise ValidationError("base_change_seq", "is missing; preview the import first")
        written = dns_queries.import_apply(zone, text, delete_missing, int(base), authorize.actor())
    except StaleVersion:
        fresh = dns_queries.zone_detail(zone)
        error = (
            "The zone was changed by someone else since your preview, so nothing was imported. "
            "This is a fresh preview against the zone as it is now; apply it if it is still right."
        )
        try:
            preview = dns_queries.import_preview(zone, text, delete_missing)
        except (ValidationError, Conflict) as exc:
            return _import_page(fresh, error=f"{error} ({exc.message})", **options), 409
        return _import_page(fresh, preview=preview, error=error, **options), 409
    except (ValidationError, Conflict) as exc:
        return _import_page(current, error=exc.message, error_field=_field(exc), **options), _status(exc)
    return _import_page(dns_queries.zone_detail(zone), applied=written.data, run_id=written.run_id)


# --- history -------------------------------------------------------------------------------------


def _fields_of(change: dict[str, Any]) -> list[dict[str, Any]]:
    """Each field of the before/after snapshots, marked when it changed."""
    before, after = change["before"], change["after"]
    present = {**before, **after}
    names = [name for name in dict.fromkeys([*FIELD_ORDER, *present]) if name in present and name != "id"]
    fields = []
    for name in names:
        old, new = before.get(name), after.get(name)
        fields.append({"name": name, "before": old, "after": new, "changed": old != new})
    return fields


def _history_page(zone_name: str, record_id: int | None, endpoint: str, route: dict[str, Any]) -> tuple[str, int]:
    error = None
    changes: list[dict[str, Any]] = []
    more = False
    try:
        before = query_int("before", 0, 1, MAX_ID) or None
        changes, more = dns_queries.change_history(
            zone_name, record_id=record_id, before_id=before, limit=HISTORY_PER_PAGE
        )
    except ValidationError as exc:
        error = exc.message
    older_url = url_for(endpoint, **route, before=changes[-1]["id"]) if more else None
    page = render_template(
        "dns_history.html",
        zone_name=dns_queries.zone_key(zone_name),
        zone_exists=dns_queries.zone_exists(zone_name),
        record_id=record_id,
        changes=[{**change, "fields": _fields_of(change)} for change in changes],
        older_url=older_url,
        error=error,
    )
    return page, 400 if error else 200


@bp.get("/<zone>/history")
@access.rule(Action.READ)
def zone_history(zone: str) -> tuple[str, int]:
    return _history_page(zone, None, ".zone_history", {"zone": zone})


@bp.get("/<zone>/records/<int:record_id>/history")
@access.rule(Action.READ)
def record_history(zone: str, record_id: int) -> tuple[str, int]:
    record_id = _record_id(record_id)
    return _history_page(zone, record_id, ".record_history", {"zone": zone, "record_id": record_id})
