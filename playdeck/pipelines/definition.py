"""A pipeline's steps, checked when the pipeline is saved: what each step is, where its edges lead, no cycle.

A step is a JSON object: ``name`` (unique in the pipeline), ``kind`` and its own fields:
- ``deploy``: ``environment``, a deploy of the pipeline run's commit there (its approvals, lock and freezes apply);
- ``playbook``: ``playbook`` (a path in the project's source, e.g. a smoke test) run against ``environment``;
- ``approval``: waits until a release manager approves or rejects it (no run);
- ``promote``: ``environment``, a promotion of the run of the deploy step ``from`` (its commit and parameters).
Edges: ``on_success`` (default: the next step in the list; ``null`` ends the pipeline) and ``on_failure``
(default ``null``: the pipeline run fails there). A step reached by no edge is never run; a cycle is refused.
An error names the field (``steps[2].on_success``), so a 400 says where to mend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from playdeck.errors import ValidationError
from playdeck.models import Project
from playdeck.projects.validation import check_relative_path

KINDS = ("deploy", "playbook", "approval", "promote")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_STEPS = 30
EDGES = ("on_success", "on_failure")
FIELDS = {
    "deploy": ("environment",),
    "playbook": ("environment", "playbook"),
    "approval": (),
    "promote": ("environment", "from"),
}


def check_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise ValidationError(field, "must be 1-64 lower-case letters, digits, _ and - (a letter or digit first)")
    return value


def _step_shape(step: object, where: str) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise ValidationError(where, "must be an object with a name and a kind")
    kind = step.get("kind")
    if kind not in KINDS:
        raise ValidationError(f"{where}.kind", f"must be one of {', '.join(KINDS)}")
    allowed = {"name", "kind", *EDGES, *FIELDS[kind]}
    unknown = sorted(set(step) - allowed)
    if unknown:
        raise ValidationError(f"{where}.{unknown[0]}", f"is not a field of a {kind} step")
    return {"name": check_name(step.get("name"), f"{where}.name"), "kind": kind}


def _fields(step: dict[str, Any], given: dict[str, Any], where: str, project: Project, kinds: dict[str, str]) -> None:
    names = list(kinds)
    environments = {environment.name for environment in project.environments}
    if "environment" in FIELDS[step["kind"]]:
        environment = given.get("environment")
        if environment not in environments:
            known = ", ".join(sorted(environments)) or "none"
            raise ValidationError(f"{where}.environment", f"project '{project.name}' has no environment "
                                  f"'{environment}' (it has: {known})")  # fmt: skip
        step["environment"] = environment
    if step["kind"] == "playbook":
        step["playbook"] = check_relative_path(given.get("playbook"), f"{where}.playbook")
    if step["kind"] == "promote":
        source = given.get("from")
        earlier = names[: names.index(step["name"])]
        if source not in earlier or kinds[source] != "deploy":
            raise ValidationError(f"{where}.from", f"must name an earlier deploy step of the pipeline, not '{source}'")
        step["from"] = source


def _edges(step: dict[str, Any], given: dict[str, Any], where: str, following: str | None, names: list[str]) -> None:
    for edge in EDGES:
        target = given.get(edge, following if edge == "on_success" else None)
        if target is not None and target not in names:
            raise ValidationError(f"{where}.{edge}", f"names no step of the pipeline: '{target}'")
        if target == step["name"]:
            raise ValidationError(f"{where}.{edge}", "leads back to the step itself: a cycle")
        step[edge] = target


def _cycle(steps: list[dict[str, Any]]) -> tuple[int, str] | None:
    """(index, edge) of an edge that closes a cycle, or None."""
    index = {step["name"]: position for position, step in enumerate(steps)}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str) -> tuple[int, str] | None:
        state[name] = 1
        for edge in EDGES:
            target = steps[index[name]][edge]
            if target is None or state.get(target) == 2:
                continue
            if state.get(target) == 1:
                return index[name], edge
            found = visit(target)
            if found:
                return found
        state[name] = 2
        return None

    for step in steps:
        if step["name"] not in state:
            found = visit(step["name"])
            if found:
                return found
    return None


def _unique(names: Iterable[str]) -> None:
    seen: set[str] = set()
    for position, name in enumerate(names):
        if name in seen:
            raise ValidationError(f"steps[{position}].name", f"'{name}' names two steps")
        seen.add(name)


def validate(steps: object, project: Project) -> list[dict[str, Any]]:
    """The steps checked against ``project`` and normalised (every edge explicit); ValidationError naming the
    field otherwise."""
    if not isinstance(steps, list) or not steps or len(steps) > MAX_STEPS:
        raise ValidationError("steps", f"must be a list of 1 to {MAX_STEPS} steps")
    shaped = [_step_shape(step, f"steps[{position}]") for position, step in enumerate(steps)]
    names = [step["name"] for step in shaped]
    _unique(names)
    for position, (step, given) in enumerate(zip(shaped, steps, strict=True)):
        where = f"steps[{position}]"
        _fields(step, given, where, project, {each["name"]: each["kind"] for each in shaped})
        following = names[position + 1] if position + 1 < len(names) else None
        _edges(step, given, where, following, names)
    cycle = _cycle(shaped)
    if cycle:
        position, edge = cycle
        raise ValidationError(f"steps[{position}].{edge}", f"'{shaped[position][edge]}' closes a cycle of steps")
    return shaped
