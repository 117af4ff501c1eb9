"""Extra vars outrank everything in Ansible, so a deploy request may not set the platform's variables,
connection or privilege settings, or Ansible's magic variables: refused with 400, nothing recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from playdeck import db
from playdeck.errors import ValidationError
from playdeck.models import Run
from playdeck.runs.requests import RunRequest, request_run
from tests.conftest import free_extra_vars


@pytest.mark.parametrize(
    "name",
    ["playdeck_apps_dir", "ansible_ssh_common_args", "ansible_become_password", "ansible_python_interpreter",
     "ansible_connection", "hostvars", "inventory_hostname", "omit"],
)  # fmt: skip
def test_reserved_extra_vars_are_refused(embedded, name):
    request = RunRequest("sampleapp", "staging", extra_vars={name: "-o ProxyCommand=touch /tmp/pwned"})
    with pytest.raises(ValidationError, match="are reserved") as refused, db.session_scope() as session:
        request_run(session, request)
    assert refused.value.field == "extra_vars"
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0


def test_ordinary_names_that_merely_contain_a_reserved_word_are_fine(embedded):
    free_extra_vars()
    with db.session_scope() as session:
        run = request_run(session, RunRequest("sampleapp", "staging", extra_vars={"my_ansible_vars": 1}))
        assert run.extra_vars == {"my_ansible_vars": 1}
