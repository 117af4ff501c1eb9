"""A launch form's secret input, through a real worker: the playbook gets the value itself, while the run's
record, its stored log, the worker's log, the audit log and the run's kept files only ever show the mask."""

from __future__ import annotations

import secrets as random

from cryptography.fernet import Fernet
from sqlalchemy import select

from playdeck import db, projects
from playdeck.masking import REDACTED
from playdeck.models import RunEvent
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.serializers import run_json
from playdeck.settings import get_settings
from tests.conftest import TERMINAL, queue_run, use_key, wait_for_state
from tests.runners.test_run_secrets import db_text, files_under, leaks


def test_a_secret_input_reaches_the_playbook_and_is_masked_everywhere_else(
    test_playbooks, start_worker, monkeypatch, tmp_path
):
    key = Fernet.generate_key().decode()
    use_key(monkeypatch, key)
    with db.session_scope() as session:
        projects.add_project(session, "forms", "launch_secret.yml", {"dev": "local2.ini"})
    worker = start_worker()
    password = f"launch-{random.token_urlsafe(12)}"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    request = RunRequest("forms", "dev", extra_vars={"db_password": password, "out_dir": str(out_dir)})
    run_id = queue_run(request).id

    assert wait_for_state(run_id, TERMINAL) == "successful"
    # The playbook had the value itself, not the mask.
    assert {p.name: p.read_text() for p in out_dir.iterdir()} == {"host1.secret": password, "host2.secret": password}
    with db.session_scope() as session:
        shown = run_json(get_run(session, run_id))
        events = session.scalars(select(RunEvent).where(RunEvent.run_id == run_id)).all()
    assert shown["extra_vars"] == {"db_password": REDACTED, "out_dir": str(out_dir)}
    debug = [e for e in events if e.task == "Show the secret input" and e.event == "runner_on_ok"]
    assert len(debug) == 2 and all(e.event_data["res"]["msg"] == f"the password is {REDACTED}" for e in debug)

    places: dict[str, str | bytes] = {"the DB": db_text(), "the worker's log": worker.output()}
    places.update({f"data dir: {name}": content for name, content in files_under(get_settings().data_dir).items()})
    assert leaks({"secret input": password, "PLAYDECK_SECRET_KEY": key}, places) == []
