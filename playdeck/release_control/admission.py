"""Whether a requested deploy may be recorded: the environment's release rules, run in the request's own
transaction by ``playdeck.runs.requests.request_run`` once the request is validated and its commit resolved.

A rule raises a ``PlaydeckError`` (a 4xx with its reason) to refuse the deploy and returns otherwise. The
platform's own runs (DNS regeneration, retries of lost runs) are not deploys a person asked for and pass.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from playdeck.models import Environment, Project
from playdeck.release_control import freeze_rule, required_success
from playdeck.runs.run_request import RunRequest

Rule = Callable[[Session, RunRequest, Project, Environment], None]

# Checked in this order; the first refusal is the answer.
RULES: tuple[Rule, ...] = (required_success.require_prior_success, freeze_rule.check)


def check(session: Session, request: RunRequest, project: Project, environment: Environment) -> None:
    if request.platform:
        return
    for rule in RULES:
        rule(session, request, project, environment)
