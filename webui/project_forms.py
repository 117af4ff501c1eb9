"""The registration and edit form of a project (``/admin/projects/new``, ``/admin/projects/<name>/edit``): what
a person typed, kept as typed so a refused form comes back with it (never a secret), and turned into the body
``playdeck.projects.changes`` takes, as the API would receive it.

An edit sends only what differs from the project as it is: an unchanged inline inventory is not read by
ansible-inventory again, and a release manager saving a directory project's form does not touch its paths.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from playdeck.errors import ValidationError
from playdeck.projects.changes import SECRET_FIELDS
from playdeck.projects.inline_inventory import normalise

TEXT_FIELDS = ("description", "source_kind", "git_url", "git_branch", "git_username", "git_known_hosts",
               "playbook", "vault_id")  # fmt: skip
ENVIRONMENT_TEXT = ("name", "inventory", "inline_inventory", "variables_yaml", "queue", "known_hosts")
# Blank environment rows a form offers for new environments.
BLANK_ROWS = 2
MAX_ROWS = 200


def blank_environment() -> dict[str, Any]:
    return {**dict.fromkeys(ENVIRONMENT_TEXT, ""), "protected": False, "remove": False, "existing": False}


def view_of_project(shown: dict[str, Any] | None) -> dict[str, Any]:
    """The form filled from ``registry.describe`` (None: an empty registration form)."""
    shown = shown or {"source_kind": "git", "git_cache_seconds": 60, "environments": []}
    view = {field: shown.get(field) or "" for field in TEXT_FIELDS}
    view.update(
        name=shown.get("name", ""),
        git_cache_seconds=str(shown.get("git_cache_seconds", 60)),
        git_submodules=bool(shown.get("git_submodules")),
        branch_environments="".join(f"{b}={e}\n" for b, e in (shown.get("branch_environments") or {}).items()),
    )
    rows = []
    for environment in shown["environments"]:
        row = {field: environment.get(field) or "" for field in ENVIRONMENT_TEXT}
        rows.append({**row, "protected": environment["protected"], "remove": False, "existing": True})
    view["environments"] = rows + [blank_environment() for _ in range(BLANK_ROWS)]
    return view


def view_of_request(form: MultiDict[str, str]) -> dict[str, Any]:
    """The form as typed (rows env-0-name, env-0-inventory, …); secrets are left out, never drawn back."""
    view = {field: form.get(field, "") for field in TEXT_FIELDS}
    view.update(
        name=form.get("name", "").strip(),
        git_cache_seconds=form.get("git_cache_seconds", "").strip(),
        git_submodules=form.get("git_submodules") is not None,
        branch_environments=form.get("branch_environments", ""),
    )
    count = form.get("environment_rows", "0")
    rows = []
    for index in range(min(int(count), MAX_ROWS) if count.isdigit() else 0):
        prefix = f"env-{index}-"
        row = {field: form.get(prefix + field, "") for field in ENVIRONMENT_TEXT}
        row["name"] = row["name"].strip()
        row.update(protected=form.get(prefix + "protected") is not None, remove=form.get(prefix + "remove") is not None,
                   existing=form.get(prefix + "existing") == "1")  # fmt: skip
        rows.append(row)
    view["environments"] = rows + [blank_environment() for _ in range(BLANK_ROWS - sum(not r["name"] for r in rows))]
    return view


def _branch_environments(text: str) -> dict[str, str] | None:
    mapping = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        branch, sep, environment = line.partition("=")
        if not sep:
            raise ValidationError("branch_environments", f"line {number}: expected BRANCH=ENVIRONMENT")
        mapping[branch.strip()] = environment.strip()
    return mapping or None


def _environment_body(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["remove"]:
        return None
    settings: dict[str, Any] = {"protected": row["protected"], "queue": row["queue"].strip() or None,
                                "known_hosts": row["known_hosts"], "variables_yaml": row["variables_yaml"]}  # fmt: skip
    if row["inline_inventory"].strip():
        settings["inline_inventory"] = row["inline_inventory"]
    else:
        settings["inventory"] = row["inventory"].strip()
    return settings


def body_of(view: dict[str, Any], form: MultiDict[str, str]) -> dict[str, Any]:
    """The registry's body from the typed form, secrets (write-only fields, empty: unchanged) from ``form``."""
    body: dict[str, Any] = {field: view[field].strip() or None for field in ("git_url", "git_branch")}
    body.update({field: view[field] for field in ("description", "source_kind", "git_username", "playbook")})
    body.update(git_known_hosts=view["git_known_hosts"], vault_id=view["vault_id"].strip())
    body["git_submodules"] = view["git_submodules"]
    cache = view["git_cache_seconds"] or "60"
    if not cache.isdigit():
        raise ValidationError("git_cache_seconds", "must be a whole number of seconds")
    body["git_cache_seconds"] = int(cache)
    body["branch_environments"] = _branch_environments(view["branch_environments"])
    body["environments"] = {row["name"]: _environment_body(row) for row in view["environments"] if row["name"]}
    for kind in SECRET_FIELDS:
        if form.get(kind, "").strip():
            body[kind] = form[kind] if kind == "git_ssh_key" else form[kind].strip("\r\n")
    if form.get("clear_git_credential") is not None:
        body.update(git_ssh_key=None, git_password=None)
    return body


def changed_only(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """What of ``body`` differs from ``current`` (``registry.describe``): an edit's PATCH."""
    changed = {
        key: value
        for key, value in body.items()
        if key in SECRET_FIELDS or (key != "environments" and current.get(key, value) != value)
    }
    if body.get("branch_environments") is None and not current.get("branch_environments"):
        changed.pop("branch_environments", None)
    stored = {environment["name"]: environment for environment in current["environments"]}
    environments = {}
    for name, settings in body["environments"].items():
        if settings is None or name not in stored:
            environments[name] = settings
            continue
        different = {key: value for key, value in settings.items() if _differs(stored[name], key, value)}
        if different:
            environments[name] = different
    if environments:
        changed["environments"] = environments
    return changed


def _differs(stored: dict[str, Any], key: str, value: Any) -> bool:
    if key == "inline_inventory":
        return stored["inline_inventory"] is None or normalise(stored["inline_inventory"]) != normalise(value)
    if key == "inventory":
        return stored["inline_inventory"] is not None or stored["inventory"] != value
    if key == "known_hosts":
        return stored["known_hosts"].split() != value.split()
    return stored.get(key) != value
