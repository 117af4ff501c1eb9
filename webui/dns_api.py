"""The DNS JSON API, ``/api/v1/zones``: zones, their records, import, export and change history.

Thin views over ``playdeck.dns`` (through ``webui.dns_queries``); errors are answered by
``webui.errors`` as ``{"error": "...", "field": "..."}`` with a 4xx status, never a 500.

Versions: a zone's ``ETag`` is its settings ``version``, a record's its ``version``. PATCH, PUT and
DELETE must say which version they were based on, as ``If-Match: "3"`` or as ``version`` (in the JSON
body, or ``?version=3`` for DELETE); without one they are refused with **428 Precondition Required** —
an edit based on nothing could silently overwrite someone else's. A version that is no longer current
is **412 Precondition Failed** when it came in ``If-Match`` and **409 Conflict** when it came in the
body; either way nothing is written and the answer carries ``current_version`` (and the ``ETag``).
``If-Match: *`` overwrites whatever is current, on purpose.

An import is previewed (``?preview=true``) and then applied with the preview's ``base_change_seq``: if
the zone changed in between, 409 and nothing is imported.

Every committed change that BIND must hear of queues a (coalesced) regeneration run after the commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Response, g, jsonify, request, url_for

from playdeck.auth.permissions import Action
from playdeck.dns import listing, zonefile, zones
from playdeck.dns.errors import StaleVersion
from playdeck.dns.history import MAX_PAGE as MAX_HISTORY_PAGE
from playdeck.errors import NotFound, PlaydeckError, ValidationError
from webui import access, authorize, dns_queries
from webui.dns_forms import is_number, query_int, refuse_odd_digits
from webui.origin import require_same_origin
from webui.payloads import json_request_body

bp = Blueprint("dns_api", __name__, url_prefix="/api/v1/zones")

IF_MATCH = "If-Match"
# Record ids are BIGINT: a larger number in a URL is simply no record (not a driver overflow).
MAX_ID = 2**63 - 1
MAX_VERSION = 2**31 - 1
MAX_PAGE_NUMBER = 1_000_000
DEFAULT_PER_PAGE = 50
DEFAULT_HISTORY_PAGE = 50
ETAG = re.compile(r'"?([0-9]{1,10})"?')
ZONE_CREATE_FIELDS = ("name", "mname", "rname", "nameservers", "glue", "serial", *zones.DEFAULT_SETTINGS)
RECORD_FIELDS = ("name", "type", "value", "ttl", "comment")
IMPORT_FIELDS = ("zonefile", "delete_missing", "base_change_seq")
RECORD_LIST_PARAMS = ("q", "type", "sort", "order", "per_page", "after", "page")
# The listing's field names → this API's parameters, so a refusal names what the caller sent.
LISTING_PARAMS = {"search": "q", "type": "type", "sort": "sort", "after": "after", "per_page": "per_page"}
CROSS_SITE = "DNS changes can only be made from Playdeck's own pages or through the API"


class PreconditionRequired(PlaydeckError):
    status_code = 428

    def __init__(self, message: str, field: str = IF_MATCH) -> None:
        super().__init__(message)
        self.field = field


@bp.errorhandler(StaleVersion)
def _stale(error: StaleVersion) -> tuple[Response, int]:
    """412 when the stale version came in If-Match (HTTP's precondition), 409 when it came in the body."""
    source = g.get("dns_version_source", "version")
    response = jsonify(error=error.message, field=source, current_version=error.current)
    if source != "base_change_seq":
        response.headers["ETag"] = _etag(error.current)
    return response, 412 if source == IF_MATCH else 409


# --- request helpers -----------------------------------------------------------------------------


def _etag(version: int) -> str:
    return f'"{version}"'


def _only(body: Mapping[str, Any], allowed: Iterable[str], what: str = "field") -> None:
    allowed = tuple(allowed)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(unknown[0], f"is not a {what} here (allowed: {', '.join(allowed)})")


def _required(body: Mapping[str, Any], *fields: str) -> None:
    for field in fields:
        if body.get(field) in (None, ""):
            raise ValidationError(field, "is required")


def _version_value(field: str, value: Any) -> int:
    if isinstance(value, str) and is_number(value) and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VERSION:
        raise ValidationError(field, "must be the version (a whole number) you read")
    return value


def _if_match() -> int | str | None:
    """The version in If-Match ("3", or 3), "*", or None without the header."""
    header = request.headers.get(IF_MATCH)
    if header is None:
        return None
    header = header.strip()
    if header == "*":
        return "*"
    matched = ETAG.fullmatch(header)
    if not matched:
        raise ValidationError(IF_MATCH, 'must be one ETag from a previous GET, like "3", or *')
    return _version_value(IF_MATCH, matched.group(1))


def _expected_version(given: Any, what: str) -> int | str:
    """The version the caller based a change on: If-Match, else ``given`` (body or query), else 428."""
    header = _if_match()
    if header is not None and given is not None and header != _version_value("version", given):
        raise ValidationError("version", f"says {given} but If-Match says {header}; send one of them")
    if header is not None:
        g.dns_version_source = IF_MATCH
        return header
    if given is None:
        raise PreconditionRequired(
            f'say which version of the {what} you read: If-Match: "<version>" (its ETag) or a version field'
        )
    g.dns_version_source = "version"
    return _version_value("version", given)


def _record_id(record_id: int) -> int:
    if record_id > MAX_ID:
        raise NotFound(f"record {record_id} does not exist")
    return record_id


def _bool(field: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ValidationError(field, "must be true or false")


def _strings(field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(field, "must be a list of names (text)")
    return value


def _glue(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ValidationError("glue", 'must be an object of name server → addresses, like {"ns1": ["192.0.2.1"]}')
    return {server: _strings("glue", addresses) for server, addresses in value.items()}


# --- JSON shapes ---------------------------------------------------------------------------------


def _run_links(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        **run,
        "url": url_for("api.get_run_json", run_id=run["id"]),
        "page": url_for("pages.run", run_id=run["id"]),
    }


def _zone_out(zone: dict[str, Any]) -> dict[str, Any]:
    name = zone["name"]
    return {
        **zone,
        "last_run": _run_links(zone["last_run"]),
        "active_run": _run_links(zone["active_run"]),
        "url": url_for(".get_zone", zone=name),
        "records_url": url_for(".list_records", zone=name),
        "history_url": url_for(".zone_history", zone=name),
        "export_url": url_for(".export_zone", zone=name),
        "import_url": url_for(".import_zone", zone=name),
        "page": url_for("dns_pages.zone", zone=name),
    }


def _record_out(record: dict[str, Any]) -> dict[str, Any]:
    return {
        **record,
        "url": url_for(".get_record", zone=record["zone"], record_id=record["id"]),
        "history_url": url_for(".record_history", zone=record["zone"], record_id=record["id"]),
    }


def _with_etag(response: Response, version: int) -> Response:
    response.headers["ETag"] = _etag(version)
    return response


def _written(data: dict[str, Any], run_id: int | None) -> dict[str, Any]:
    """A write's answer: the resource, and the regeneration run it queued (None: one queued already covers it)."""
    return {**data, "regeneration_run_id": run_id}


# --- zones ---------------------------------------------------------------------------------------


@bp.get("")
@access.rule(Action.READ)
def list_zones() -> Response:
    return jsonify(zones=[_zone_out(zone) for zone in dns_queries.zone_list()])


@bp.post("")
@access.rule(Action.MANAGE_ZONES)
def create_zone() -> tuple[Response, int]:
    """201 with the zone (dirty: its first regeneration is queued); 409 if it exists."""
    require_same_origin(CROSS_SITE)
    body = json_request_body()
    _only(body, ZONE_CREATE_FIELDS)
    _required(body, "name", "mname", "rname")
    fields = dict(body)
    refuse_odd_digits(fields)
    if "nameservers" in fields:
        fields["nameservers"] = _strings("nameservers", fields["nameservers"])
    if "glue" in fields:
        fields["glue"] = _glue(fields["glue"])
    written = dns_queries.create_zone(fields, authorize.actor())
    zone = _zone_out(written.data)
    response = _with_etag(jsonify(_written(zone, written.run_id)), zone["version"])
    response.headers["Location"] = zone["url"]
    return response, 201


@bp.get("/<zone>")
@access.rule(Action.READ)
def get_zone(zone: str) -> Response:
    found = _zone_out(dns_queries.zone_detail(zone))
    return _with_etag(jsonify(found), found["version"])


@bp.patch("/<zone>")
@access.rule(Action.MANAGE_ZONES)
def update_zone(zone: str) -> Response:
    """Change SOA settings, default TTL or auto_ptr of the zone read at ``version``."""
    require_same_origin(CROSS_SITE)
    body = json_request_body()
    _only(body, (*zones.SETTINGS, "version"))
    version = _expected_version(body.pop("version", None), "zone")
    refuse_odd_digits(body)
    if version == "*":
        version = dns_queries.current_zone_version(zone)
    written = dns_queries.update_zone(zone, version, body, authorize.actor())
    updated = _zone_out(written.data)
    return _with_etag(jsonify(_written(updated, written.run_id)), updated["version"])


@bp.delete("/<zone>")
@access.rule(Action.MANAGE_ZONES)
def delete_zone(zone: str) -> tuple[Response, int]:
    """202: gone for users now; the next regeneration removes it from the DNS server."""
    require_same_origin(CROSS_SITE)
    _only(request.args, ("version",), "parameter")
    version = _expected_version(request.args.get("version"), "zone")
    if version == "*":
        version = dns_queries.current_zone_version(zone)
    written = dns_queries.delete_zone(zone, version, authorize.actor())
    return jsonify(_written(written.data, written.run_id)), 202


# --- records -------------------------------------------------------------------------------------


@bp.get("/<zone>/records")
@access.rule(Action.READ)
def list_records(zone: str) -> Response:
    """A page of records: ``q`` (in names and values), ``type``, ``sort`` (name|type|ttl) and ``order``
    (asc|desc), ``per_page`` (≤ 500); follow ``next`` (a keyset cursor, ``after``) for the next page,
    or jump with ``page`` (slower the deeper it goes)."""
    args = request.args
    _only(args, RECORD_LIST_PARAMS, "parameter")
    order = args.get("order", "asc")
    if order not in ("asc", "desc"):
        raise ValidationError("order", "must be asc or desc")
    per_page = query_int("per_page", DEFAULT_PER_PAGE, 1, listing.MAX_PER_PAGE)
    page = query_int("page", 0, 1, MAX_PAGE_NUMBER) or None
    found = dns_queries.record_listing(
        zone,
        search=args.get("q"),
        rtype=args.get("type"),
        sort=args.get("sort", "name"),
        descending=order == "desc",
        after=args.get("after"),
        page=page,
        per_page=per_page,
        param_names=LISTING_PARAMS,
    )
    next_url = None
    if found.has_next:
        kept = {key: value for key, value in args.items() if key not in ("after", "page")}
        next_url = url_for(".list_records", zone=found.zone["name"], **kept, after=found.next_cursor)
    return jsonify(
        zone=found.zone["name"],
        record_count=found.zone["record_count"],
        records=[_record_out(record) for record in found.records],
        per_page=per_page,
        has_next=found.has_next,
        next_cursor=found.next_cursor,
        next=next_url,
    )


def _record_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The API's field names → the service's keyword arguments."""
    fields = {key: body[key] for key in RECORD_FIELDS if key in body}
    refuse_odd_digits(fields)
    if "type" in fields:
        fields["rtype"] = fields.pop("type")
    return fields


@bp.post("/<zone>/records")
@access.rule(Action.EDIT_RECORDS)
def create_record(zone: str) -> tuple[Response, int]:
    require_same_origin(CROSS_SITE)
    authorize.require_zone_editor(zone)
    body = json_request_body()
    _only(body, RECORD_FIELDS)
    _required(body, "name", "type", "value")
    written = dns_queries.create_record(zone, _record_fields(body), authorize.actor())
    record = _record_out(written.data)
    response = _with_etag(jsonify(_written(record, written.run_id)), record["version"])
    response.headers["Location"] = record["url"]
    return response, 201


@bp.get("/<zone>/records/<int:record_id>")
@access.rule(Action.READ)
def get_record(zone: str, record_id: int) -> Response:
    record = _record_out(dns_queries.record_detail(zone, _record_id(record_id)))
    return _with_etag(jsonify(record), record["version"])


@bp.route("/<zone>/records/<int:record_id>", methods=["PUT", "PATCH"])
@access.rule(Action.EDIT_RECORDS)
def update_record(zone: str, record_id: int) -> Response:
    """PATCH changes the fields given; PUT replaces the record (name, type and value required; a
    missing comment becomes empty, a missing ttl keeps the RRset's)."""
    require_same_origin(CROSS_SITE)
    authorize.require_zone_editor(zone)
    record_id = _record_id(record_id)
    body = json_request_body()
    _only(body, (*RECORD_FIELDS, "version"))
    version = _expected_version(body.pop("version", None), "record")
    if request.method == "PUT":
        _required(body, "name", "type", "value")
        body.setdefault("comment", "")
    if version == "*":
        version = dns_queries.record_detail(zone, record_id)["version"]
    written = dns_queries.update_record(zone, record_id, version, _record_fields(body), authorize.actor())
    record = _record_out(written.data)
    return _with_etag(jsonify(_written(record, written.run_id)), record["version"])


@bp.delete("/<zone>/records/<int:record_id>")
@access.rule(Action.EDIT_RECORDS)
def delete_record(zone: str, record_id: int) -> tuple[str, int]:
    require_same_origin(CROSS_SITE)
    authorize.require_zone_editor(zone)
    record_id = _record_id(record_id)
    _only(request.args, ("version",), "parameter")
    version = _expected_version(request.args.get("version"), "record")
    if version == "*":
        version = dns_queries.record_detail(zone, record_id)["version"]
    dns_queries.delete_record(zone, record_id, version, authorize.actor())
    return "", 204


# --- import, export, history ---------------------------------------------------------------------


def _import_request() -> tuple[Any, dict[str, Any]]:
    """The zone file and options: a JSON object, or the zone file itself as text/plain (options in the
    query string, for ``curl --data-binary @zone.db``)."""
    args = dict(request.args)
    args.pop("preview", None)
    if request.mimetype == "text/plain":
        _only(args, ("delete_missing", "base_change_seq"), "parameter")
        try:
            text = request.get_data(cache=False).decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("zonefile", "must be UTF-8 text") from None
        return text, args
    _only(args, (), "parameter")
    body = json_request_body()
    _only(body, IMPORT_FIELDS)
    if not isinstance(body.get("zonefile"), str):
        raise ValidationError("zonefile", "is required: the zone file's text")
    return body.pop("zonefile"), body


@bp.post("/<zone>/import")
@access.rule(Action.EDIT_RECORDS)
def import_zone(zone: str) -> Response:
    """``?preview=true``: what importing the zone file would change (nothing is written). Otherwise the
    import, applied only if the zone is still at the preview's ``base_change_seq`` (409 if not)."""
    # A text/plain body is what a cross-site form can send: refuse other sites explicitly.
    require_same_origin(CROSS_SITE)
    authorize.require_zone_editor(zone)
    preview = _bool("preview", request.args.get("preview"), False)
    text, options = _import_request()
    delete_missing = _bool("delete_missing", options.get("delete_missing"), True)
    if preview:
        return jsonify(dns_queries.import_preview(zone, text, delete_missing))
    if options.get("base_change_seq") is None:
        raise PreconditionRequired(
            "preview the import first (?preview=true) and send its base_change_seq", "base_change_seq"
        )
    g.dns_version_source = "base_change_seq"
    base = options["base_change_seq"]
    if isinstance(base, str) and is_number(base) and len(base) <= 19:
        base = int(base)
    if isinstance(base, bool) or not isinstance(base, int) or not 0 <= base <= MAX_ID:
        raise ValidationError("base_change_seq", "must be the base_change_seq of a preview (a whole number)")
    written = dns_queries.import_apply(zone, text, delete_missing, base, authorize.actor())
    return jsonify(_written({**written.data, "applied": True}, written.run_id))


@bp.get("/<zone>/export")
@access.rule(Action.READ)
def export_zone(zone: str) -> Response:
    """The zone file as the DB has it now, with the serial it was last exported with."""
    data = dns_queries.export_data(zone)
    name = data["zone"]
    return Response(
        zonefile.render(data),
        mimetype="text/plain",
        headers={"Content-Disposition": f'inline; filename="{name}zone"'},
    )


def _history(zone_name: str, record_id: int | None, endpoint: str, route: dict[str, Any]) -> Response:
    _only(request.args, ("before", "limit"), "parameter")
    before = query_int("before", 0, 1, MAX_ID) or None
    limit = query_int("limit", DEFAULT_HISTORY_PAGE, 1, MAX_HISTORY_PAGE)
    changes, more = dns_queries.change_history(zone_name, record_id=record_id, before_id=before, limit=limit)
    next_url = url_for(endpoint, **route, before=changes[-1]["id"], limit=limit) if more else None
    return jsonify(changes=changes, next=next_url)


@bp.get("/<zone>/history")
@access.rule(Action.READ)
def zone_history(zone: str) -> Response:
    return _history(zone, None, ".zone_history", {"zone": zone})


@bp.get("/<zone>/records/<int:record_id>/history")
@access.rule(Action.READ)
def record_history(zone: str, record_id: int) -> Response:
    record_id = _record_id(record_id)
    return _history(zone, record_id, ".record_history", {"zone": zone, "record_id": record_id})
