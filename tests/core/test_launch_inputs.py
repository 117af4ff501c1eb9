"""A project's launch form applied to its runs: the sample's file beside its playbook, the admins' declaration
over it, and secret inputs that never reach the run record, the audit log or the database in clear."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from playdeck import audit, db, launch_inputs, projects
from playdeck.errors import ValidationError
from playdeck.masking import REDACTED
from playdeck.models import AuditEvent, Run
from playdeck.runs.queries import get_run
from playdeck.runs.relaunch import relaunch_request
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, request_cancel
from playdeck.secrets import SecretKeyError
from tests.conftest import mark_lost, use_key

PASSWORD = "s3cret-launch-value"
SECRET_FORM = [{"name": "db_password", "type": "secret", "required": True}, {"name": "note", "type": "string"}]


def request(**extra_vars) -> RunRequest:
    return RunRequest("sampleapp", "staging", extra_vars=extra_vars, requested_by="alice")


def queue(**extra_vars) -> Run:
    with db.session_scope() as session:
        run_id = request_run(session, request(**extra_vars)).id
    with db.session_scope() as session:
        return get_run(session, run_id)


def declare(fields, allow_free: bool = False) -> None:
    with db.session_scope() as session:
        launch_inputs.set_launch_form(session, "sampleapp", fields, allow_free, who="admin")


def test_the_sample_declares_keep_releases_from_1_to_20_and_nothing_else(embedded):
    with db.session_scope() as session:
        form = launch_inputs.project_form(session, "sampleapp")
    assert (form.source, form.file, form.names) == (
        "file",
        "sampleapp/deploy.launch.yml",
        ["keep_releases", "sampleapp_fail_health"],
    )
    for bad, message in ((21, "keep_releases: must be between 1 and 20"), (0, "must be between 1 and 20")):
        with pytest.raises(ValidationError, match=message), db.session_scope() as session:
            request_run(session, request(keep_releases=bad))
    # The playbook's own paths cannot be replaced by a launch.
    with pytest.raises(ValidationError, match="'releases_dir' is not a variable"), db.session_scope() as session:
        request_run(session, request(releases_dir="/tmp/elsewhere"))
    assert queue(keep_releases=20).extra_vars == {"keep_releases": 20, "sampleapp_fail_health": False}


def test_the_admins_declaration_wins_over_the_file_and_none_brings_the_file_back(embedded):
    declare([{"name": "region", "type": "choice", "choices": ["eu", "us"], "default": "eu"}])
    assert queue().extra_vars == {"region": "eu"}
    with pytest.raises(ValidationError, match="'keep_releases' is not a variable"), db.session_scope() as session:
        request_run(session, request(keep_releases=3))
    declare(None)
    assert queue(keep_releases=4).extra_vars["keep_releases"] == 4
    with db.session_scope() as session:
        changes = audit.list_events(session, audit.AuditFilters(action="project.launch_form"), limit=10)[0]
    assert [event.details["source"] for event in reversed(changes)] == ["project", "file"]


def test_a_broken_file_beside_the_playbook_is_a_clear_refusal(embedded, tmp_path, monkeypatch):
    playbooks = tmp_path / "playbooks"
    (playbooks / "app").mkdir(parents=True)
    (playbooks / "app" / "site.yml").write_text("- hosts: all\n  tasks: []\n")
    (playbooks / "app" / "site.launch.yml").write_text("fields:\n  - {name: x, type: float}\n")
    monkeypatch.setenv("PLAYDECK_PLAYBOOK_DIR", str(playbooks))
    from playdeck.settings import get_settings

    get_settings.cache_clear()
    with db.session_scope() as session:
        projects.add_project(session, "app", "app/site.yml", {"dev": "sampleapp/staging.ini"})
    # add_project checks the inventory against the inventory dir, unchanged.
    with pytest.raises(ValidationError) as caught, db.session_scope() as session:
        request_run(session, RunRequest("app", "dev"))
    assert caught.value.field == "launch_form"
    assert "app/site.launch.yml beside the playbook is invalid: fields.x.type" in caught.value.message


@pytest.mark.parametrize("backend", ["embedded", "production"])
def test_a_secret_input_is_masked_in_the_run_and_audit_and_sealed_in_the_database(backend, request, monkeypatch):
    request.getfixturevalue(backend)
    use_key(monkeypatch, Fernet.generate_key().decode())
    declare(SECRET_FORM)
    run = queue(db_password=PASSWORD, note="hello")
    assert run.extra_vars == {"db_password": REDACTED, "note": "hello"}
    assert run.secret_var_names == ["db_password"]
    with db.session_scope() as session:
        row = session.execute(text("SELECT * FROM runs WHERE id = :id"), {"id": run.id}).mappings().one()
        logged = [event.details for event in session.scalars(select(AuditEvent))]
        assert launch_inputs.secret_inputs_for_run(session, run.id) == {"db_password": PASSWORD}
    assert PASSWORD not in json.dumps({k: str(v) for k, v in row.items()})
    assert row["secret_vars_sealed"]
    assert PASSWORD not in json.dumps(logged, default=str)

    # Ended: the sealed value is gone, and so a relaunch cannot have it.
    with db.session_scope() as session:
        request_cancel(session, run.id, "alice")
    with db.session_scope() as session:
        assert session.get(Run, run.id).secret_vars_sealed is None
        with pytest.raises(ValidationError, match="secret input.s. db_password, which are not kept"):
            relaunch_request(session, run.id, requested_by="bob")


def test_secret_inputs_need_the_key_and_are_bound_to_their_run(embedded, monkeypatch):
    declare(SECRET_FORM)
    use_key(monkeypatch, None)
    with pytest.raises(SecretKeyError, match="secret inputs .db_password. need a key"), db.session_scope() as session:
        request_run(session, request(db_password=PASSWORD))
    use_key(monkeypatch, Fernet.generate_key().decode())
    first, second = queue(db_password=PASSWORD), queue(db_password="another-value")
    with db.session_scope() as session:
        session.get(Run, second.id).secret_vars_sealed = session.get(Run, first.id).secret_vars_sealed
    with pytest.raises(SecretKeyError, match="sealed for another run"), db.session_scope() as session:
        launch_inputs.secret_inputs_for_run(session, second.id)


def test_a_lost_run_with_secret_inputs_is_recorded_lost_and_not_retried(embedded, monkeypatch):
    use_key(monkeypatch, Fernet.generate_key().decode())
    declare(SECRET_FORM)
    with db.session_scope() as session:
        projects.set_options(session, "sampleapp", retry_lost_runs=2)
    run = queue(db_password=PASSWORD)
    with db.session_scope() as session:
        assert claim_run(session, run.id, "worker-a", 4242)
    found = mark_lost(run.id, "worker heartbeat stale")
    assert found is not None and found.retry is None
    with db.session_scope() as session:
        ended = get_run(session, run.id)
        assert ended.state == RunState.LOST
        assert "not retried automatically: extra_vars: run" in ended.reason
        assert session.scalar(select(Run.id).where(Run.id != run.id)) is None


def test_a_relaunch_is_checked_against_the_form_as_it_is_now(embedded):
    run = queue(keep_releases=5)
    with db.session_scope() as session:
        request_cancel(session, run.id, "alice")
    declare(
        [{"name": "keep_releases", "type": "integer", "max": 4}, {"name": "sampleapp_fail_health", "type": "boolean"}]
    )
    with db.session_scope() as session:
        again = relaunch_request(session, run.id, requested_by="bob")
    with pytest.raises(ValidationError, match="keep_releases: must be at most 4"), db.session_scope() as session:
        request_run(session, again)
    declare([])
    with pytest.raises(ValidationError, match="'keep_releases' is not a variable"), db.session_scope() as session:
        request_run(session, again)
