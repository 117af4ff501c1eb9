"""Relaunch on failed hosts end to end: a real worker on MariaDB + Redis runs the playbook again, through
the API, on only the host that failed."""

from __future__ import annotations

import pytest

from playdeck import db
from playdeck.runs.queries import get_run
from tests.conftest import as_user, wait_for_state, web_client
from tests.runners.test_worker import submit

ENDED = {"successful", "failed", "error", "canceled", "timeout", "lost"}


@pytest.mark.usefixtures("test_projects")
def test_relaunch_on_failed_hosts_runs_only_them(start_worker):
    start_worker()
    original = submit("partial", version="3.1.0")
    assert wait_for_state(original, ENDED) == "failed"

    client = web_client()
    response = client.post(f"/api/v1/runs/{original}/relaunch", json={"hosts": "failed"}, headers=as_user("oncall"))
    assert response.status_code == 201, response.json
    relaunched = response.json["id"]

    # host2 still fails (the playbook fails it every time); host1 is not touched at all.
    assert wait_for_state(relaunched, ENDED) == "failed"
    with db.session_scope() as session:
        run = get_run(session, relaunched)
        assert (run.relaunch_of_id, run.limit, run.version, run.requested_by) == (original, "host2", "3.1.0", "oncall")
        assert [(s.host, s.ok, s.failed) for s in run.host_summaries] == [("host2", 1, 1)]
        assert run.attempt == 1 and run.rc == 2
    assert client.get(f"/api/v1/runs/{relaunched}").json["relaunch_of"] == original
