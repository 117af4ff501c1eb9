"""Rolling back: the run to repeat is the last successful deploy before the current one that deployed something
else (another commit, or for a directory project another version), or a run named; nothing to roll back to is a
409 with the reason; the "Deployed versions" history lists the real deploys that started."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from playdeck import db
from playdeck.errors import Conflict, ValidationError
from playdeck.models import Run
from playdeck.projects import get_environment, get_project
from playdeck.releases import deployments
from playdeck.releases.rollback import rollback_request
from playdeck.runs.requests import RunRequest, request_run
from playdeck.runs.states import RunState
from playdeck.runs.transitions import claim_run, finish_run, request_cancel
from tests.conftest import free_extra_vars


@pytest.fixture(autouse=True)
def _free_extra_vars(embedded) -> None:
    free_extra_vars()


def deploy(
    version: str,
    state: RunState = RunState.SUCCESSFUL,
    *,
    environment: str = "staging",
    commit: str | None = None,
    check: bool = False,
    **request: object,
) -> int:
    """A deploy through the services a worker calls; ``commit`` as git-runs records it for a git project."""
    with db.session_scope() as session:
        run = request_run(session, RunRequest("sampleapp", environment, version=version, check=check, **request))
        run_id = run.id
        if commit:
            run.commit_sha, run.ref, run.commit_subject = commit, f"v{version}", f"Release {version}"
    with db.session_scope() as session:
        assert claim_run(session, run_id, "testhost", 123)
    with db.session_scope() as session:
        assert finish_run(session, run_id, state, rc=0 if state == RunState.SUCCESSFUL else 2)
    return run_id


def roll_back(environment: str = "staging", to_run: object = None) -> RunRequest:
    with db.session_scope() as session:
        project = get_project(session, "sampleapp")
        env = get_environment(project, environment)
        return rollback_request(session, project, env, requested_by="carol", to_run=to_run)


def test_rolls_back_to_the_last_successful_deploy_of_another_version_with_its_parameters() -> None:
    first = deploy("1.0", extra_vars={"workers": 3}, limit="web*", tags=["release"])
    deploy("1.1", state=RunState.FAILED)
    deploy("1.0", check=True)  # a dry run deploys nothing
    deploy("1.0", environment="production")  # another environment
    current = deploy("2.0")
    deploy("2.0")  # the same version again: still what is deployed, not something to go back to

    request = roll_back()

    assert (request.version, request.extra_vars, request.limit, request.tags) == (
        "1.0",
        {"workers": 3},
        "web*",
        ["release"],
    )
    assert request.check is False and request.requested_by == "carol"
    # Linked to the run it replaces (the latest deploy of 2.0), not as a relaunch of #first.
    assert request.rollback_of == current + 1 and request.relaunch_of is None
    with db.session_scope() as session:
        run = request_run(session, request)
        assert run.rollback_of_id == current + 1
        assert first < run.id


def test_git_deploys_are_told_apart_by_commit() -> None:
    deploy("", commit="a" * 40)
    current = deploy("", commit="b" * 40)  # the same (empty) version: only the commit differs

    request = roll_back()

    assert request.rollback_of == current
    # Exactly the commit that run deployed, not where its ref points now (resolving passes it through).
    assert (request.commit_sha, request.ref, request.commit_subject) == ("a" * 40, "v", "Release ")


def test_to_a_chosen_run() -> None:
    first = deploy("1.0")
    deploy("1.1")
    current = deploy("1.2")

    assert roll_back(to_run=first).version == "1.0"
    with pytest.raises(Conflict, match="what staging runs now"):
        roll_back(to_run=current)
    failed = deploy("0.9", state=RunState.FAILED)
    with pytest.raises(ValidationError, match="not a successful deploy") as refused:
        roll_back(to_run=failed)
    assert refused.value.field == "to_run"
    with pytest.raises(ValidationError, match="did not deploy to staging"):
        roll_back(to_run=deploy("0.8", environment="production"))
    with pytest.raises(ValidationError, match="does not exist"):
        roll_back(to_run=999_999)
    with pytest.raises(ValidationError, match="id of a run"):
        roll_back(to_run="1")


def test_nothing_to_roll_back_to_is_a_conflict_with_the_reason() -> None:
    with pytest.raises(Conflict, match="nothing has been deployed to sampleapp staging yet"):
        roll_back()
    deploy("1.0", state=RunState.FAILED)
    deploy("1.0")
    with pytest.raises(Conflict, match=r"staging runs version 1.0 \(run \d+\) and no earlier successful deploy"):
        roll_back()


def test_a_run_given_secret_inputs_cannot_be_repeated() -> None:
    first = deploy("1.0")
    deploy("2.0")
    with db.session_scope() as session:
        session.execute(update(Run).where(Run.id == first).values(secret_var_names_json='["db_password"]'))
    with pytest.raises(ValidationError, match="secret input"):
        roll_back()


def test_history_lists_the_real_deploys_that_started_newest_first() -> None:
    deploy("1.0")
    failed = deploy("1.1", state=RunState.FAILED)
    deploy("1.1", check=True)
    with db.session_scope() as session:
        never_started = request_run(session, RunRequest("sampleapp", "staging", version="1.2")).id
    with db.session_scope() as session:
        request_cancel(session, never_started, "carol")
    current = deploy("", commit="c" * 40)

    with db.session_scope() as session:
        env = get_environment(get_project(session, "sampleapp"), "staging")
        rows, more = deployments.history(session, env, limit=2)
        older, no_more = deployments.history(session, env, limit=2, before=rows[-1].run_id)

    assert [row.run_id for row in rows] == [current, failed] and more
    assert [row.version for row in older] == ["1.0"] and not no_more
    newest = rows[0].to_json()
    assert newest["current"] and newest["commit"] == "c" * 40 and newest["short_commit"] == "c" * 12
    assert (newest["ref"], newest["subject"], newest["requested_by"]) == ("v", "Release ", "anonymous")
    assert rows[1].to_json()["state"] == "failed" and not rows[1].current
    with pytest.raises(ValidationError, match="limit"):
        with db.session_scope() as session:
            deployments.history(session, env, limit=0)
