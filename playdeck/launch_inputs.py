"""Where a project's launch form comes from, and how a run's secret inputs stay out of its record.

A project's admins declare the form (stored on the project), else a file beside the playbook declares it
(``deploy.yml`` → ``deploy.launch.yml``: the playbook's author locks down its own variables, and the form
travels with the playbook), else there is none. A project without any declaration takes free extra vars
as before launch forms existed (name-checked, reserved names refused): existing projects and their
launchers keep working after an upgrade, and a project is locked down by declaring a form, even an empty
one (``fields: []``: no launch variables at all). With a form, undeclared names are refused unless the
admins turn on ``allow_free_extra_vars`` (AWX's survey plus "prompt on launch").

A secret field's value is replaced by the mask in the run's extra vars (what the API, the pages and the
audit log show) and kept, encrypted with PLAYDECK_SECRET_KEY and bound to its run, in
``runs.secret_vars_sealed`` only until the run ends (``transitions.transition`` clears it): the worker decrypts
it just before the playbook starts, and the run's events and files are masked with it like a project
secret. A relaunch therefore cannot reuse it (``playdeck.runs.relaunch`` refuses and says so).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from playdeck import audit, masking, projects, secrets
from playdeck.errors import ValidationError
from playdeck.launch_form import MAX_DOCUMENT_BYTES, LaunchForm, parse_document, parse_fields
from playdeck.models import Project, Run
from playdeck.settings import get_settings

LAUNCH_FILE_SUFFIX = ".launch.yml"


def launch_file(playbook: str) -> str:
    """The declaration file beside ``playbook``, relative to the playbook directory."""
    return str(PurePosixPath(playbook).with_suffix(LAUNCH_FILE_SUFFIX))


def form_for(project: Project) -> LaunchForm:
    """The form a launch of ``project`` is validated against (see the module's docstring)."""
    file = launch_file(project.playbook)
    allow = project.allow_free_extra_vars
    if project.launch_form_json is not None:
        return LaunchForm(parse_fields(json.loads(project.launch_form_json)), "project", allow, file)
    if project.is_git:
        # Its playbook is in its repository, not in the server's playbook dir: only a form saved on the project.
        return LaunchForm((), "none", allow, file)
    path = projects.resolve_inside(get_settings().playbook_dir, file, "launch_form")
    if not path.is_file():
        return LaunchForm((), "none", allow, file)
    with path.open("rb") as handle:
        raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    try:
        fields = parse_document(raw.decode("utf-8", errors="replace"))
    except ValidationError as exc:
        # The server's file is at fault, not the launch: say which file and what is wrong with it.
        raise ValidationError(
            "launch_form", f"the declaration {file} beside the playbook is invalid: {exc.message}"
        ) from None
    return LaunchForm(fields, "file", allow, file)


def project_form(session: Session, name: str) -> LaunchForm:
    return form_for(projects.get_project(session, name))


def set_launch_form(
    session: Session, name: str, fields: Any, allow_free_extra_vars: bool, who: str | None = None
) -> LaunchForm:
    """Declare ``name``'s form (``fields`` as in a declaration: a list of mappings), or with ``fields`` None
    drop the admins' declaration so the file beside the playbook applies again. Audited."""
    if not isinstance(allow_free_extra_vars, bool):
        raise ValidationError("allow_free_extra_vars", "must be true or false")
    parsed = None if fields is None else parse_fields(fields)
    project = projects.get_project(session, name)
    project.launch_form_json = None if parsed is None else json.dumps([field.to_dict() for field in parsed])
    project.allow_free_extra_vars = allow_free_extra_vars
    session.flush()
    form = form_for(project)
    details = {"source": form.source, "fields": form.names, "allow_free_extra_vars": allow_free_extra_vars}
    audit.record(session, "project.launch_form", "project", name, details, actor=who)
    return form


# --- secret inputs ----------------------------------------------------------------------------------------


def split_secrets(form: LaunchForm, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The values as the run's record shows them (secrets masked), and the secret values alone."""
    hidden = {name: value for name, value in values.items() if name in form.secret_names}
    shown = {name: masking.REDACTED if name in hidden else value for name, value in values.items()}
    return shown, hidden


def seal(run_id: int, values: dict[str, str]) -> str:
    """Encrypted with the project secrets' key and bound to ``run_id``: copied into another run, refused."""
    try:
        fernet = secrets.cipher()
    except secrets.SecretKeyError as exc:
        raise secrets.SecretKeyError(f"secret inputs ({', '.join(sorted(values))}) need a key: {exc}") from None
    return fernet.encrypt(json.dumps({"run_id": run_id, "values": values}).encode()).decode("ascii")


def secret_inputs_for_run(session: Session, run_id: int) -> dict[str, str]:
    """The decrypted secret inputs of a run that is about to start ({} when it has none)."""
    row = session.execute(select(Run.secret_var_names_json, Run.secret_vars_sealed).where(Run.id == run_id)).one()
    names = json.loads(row.secret_var_names_json or "[]")
    if not names:
        return {}
    if row.secret_vars_sealed is None:
        raise secrets.SecretKeyError(f"run {run_id}'s secret inputs ({', '.join(names)}) are no longer kept")
    try:
        envelope = json.loads(secrets.cipher().decrypt(row.secret_vars_sealed.encode("ascii")))
    except (InvalidToken, ValueError):
        raise secrets.SecretKeyError(
            f"run {run_id}'s secret inputs cannot be decrypted: PLAYDECK_SECRET_KEY is not the key they were "
            "encrypted with"
        ) from None
    if envelope.get("run_id") != run_id or sorted(envelope.get("values", {})) != sorted(names):
        raise secrets.SecretKeyError(f"run {run_id}'s secret inputs were sealed for another run")
    return envelope["values"]
