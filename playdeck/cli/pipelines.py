"""``playdeck pipeline run|list|show|resume|cancel|approve``: pipeline runs, through the JSON API as the token's
user. ``run --wait`` follows the steps until the pipeline run ends and exits 0 only if it succeeded."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from playdeck.cli.common import EXIT_INTERRUPTED, EXIT_RUN_FAILED
from playdeck.cli.output import format_table
from playdeck.cli.runs import api_client

POLL_SECONDS = 1.0


def steps_table(pipeline_run: dict[str, Any]) -> str:
    rows = [
        [step["name"], step["kind"], step["state"], step["run_id"] or "-",
         "-" if step["duration_seconds"] is None else f"{step['duration_seconds']:.0f}s", step["reason"]]
        for step in pipeline_run["steps"]
    ]  # fmt: skip
    return format_table(["STEP", "KIND", "STATE", "RUN", "DURATION", "REASON"], rows)


def headline(pipeline_run: dict[str, Any]) -> str:
    source = pipeline_run["commit"] or pipeline_run["version"] or "(default version)"
    line = f"Pipeline run {pipeline_run['id']} ({pipeline_run['project']}/{pipeline_run['pipeline']}) "
    line += f"{pipeline_run['state']} at {source}"
    return line + (f": {pipeline_run['reason']}" if pipeline_run.get("reason") else "")


@click.group()
def pipeline() -> None:
    """Chains of steps (deploy, smoke playbook, approval, promote) that run one commit through environments."""


def _follow(pipeline_run: dict[str, Any]) -> None:
    """Poll until the pipeline run ends, printing each step's change; exit 0 only if it succeeded."""
    api = api_client()
    seen: dict[str, str] = {}
    try:
        while True:
            for step in pipeline_run["steps"]:
                if seen.get(step["name"]) != step["state"]:
                    seen[step["name"]] = step["state"]
                    run = f" (run {step['run_id']})" if step["run_id"] else ""
                    click.echo(f"  {step['name']}: {step['state']}{run}")
            if pipeline_run["state"] != "running":
                break
            time.sleep(POLL_SECONDS)
            pipeline_run = api.get_pipeline_run(pipeline_run["id"])
    except KeyboardInterrupt:
        click.echo(f"\nStopped following; pipeline run {pipeline_run['id']} goes on", err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(headline(pipeline_run))
    sys.exit(0 if pipeline_run["state"] == "succeeded" else EXIT_RUN_FAILED)


@pipeline.command("run")
@click.argument("project")
@click.argument("name")
@click.option("--ref", default=None, help="Branch, tag or commit (git projects); resolved once, for every step.")
@click.option("--version", default=None, help="Version to deploy (directory projects).")
@click.option("--wait", is_flag=True, help="Follow the steps; exit 0 only if the pipeline run succeeds.")
def run(project: str, name: str, ref: str | None, version: str | None, wait: bool) -> None:
    """Start pipeline NAME of PROJECT."""
    body: dict[str, Any] = {"project": project, "pipeline": name}
    body.update({key: value for key, value in (("ref", ref), ("version", version)) if value is not None})
    api = api_client()
    started = api.start_pipeline(body)
    click.echo(f"{headline(started)}: {api.pipeline_run_page_url(started['id'])}")
    if wait:
        _follow(started)


@pipeline.command("list")
@click.option("--project", default=None, help="Only this project's.")
@click.option("--runs", "show_runs", is_flag=True, help="List pipeline runs (newest first) instead of pipelines.")
def list_pipelines(project: str | None, show_runs: bool) -> None:
    """List pipelines, or with --runs their runs."""
    api = api_client()
    if show_runs:
        rows = [[item["id"], item["project"], item["pipeline"], item["state"], item["commit"] or item["version"] or "-",
                 item["failed_step"] or "-", item["requested_by"]]
                for item in api.list_pipeline_runs({"project": project} if project else {})]  # fmt: skip
        click.echo(format_table(["ID", "PROJECT", "PIPELINE", "STATE", "SOURCE", "FAILED STEP", "BY"], rows))
        return
    rows = [[item["id"], item["project"], item["name"], " → ".join(step["name"] for step in item["steps"])]
            for item in api.list_pipelines(project)]  # fmt: skip
    click.echo(format_table(["ID", "PROJECT", "NAME", "STEPS"], rows))


@pipeline.command("show")
@click.argument("pipeline_run_id", type=int)
def show(pipeline_run_id: int) -> None:
    """A pipeline run and its steps."""
    shown = api_client().get_pipeline_run(pipeline_run_id)
    click.echo(headline(shown))
    click.echo(steps_table(shown))


@pipeline.command("resume")
@click.argument("pipeline_run_id", type=int)
@click.option("--from", "from_step", default=None, help="A later step than the failed one to go on from.")
@click.option("--wait", is_flag=True, help="Follow the steps; exit 0 only if the pipeline run succeeds.")
def resume(pipeline_run_id: int, from_step: str | None, wait: bool) -> None:
    """Resume a failed pipeline run from its failed step (same commit; the steps done stay done)."""
    resumed = api_client().pipeline_run_action(pipeline_run_id, "resume", {"from": from_step} if from_step else {})
    click.echo(headline(resumed))
    if wait:
        _follow(resumed)


@pipeline.command("cancel")
@click.argument("pipeline_run_id", type=int)
def cancel(pipeline_run_id: int) -> None:
    """Cancel a pipeline run: its running step's run is canceled, the rest skipped."""
    click.echo(headline(api_client().pipeline_run_action(pipeline_run_id, "cancel", {})))


@pipeline.command("approve")
@click.argument("pipeline_run_id", type=int)
@click.argument("step")
@click.option("--reject", is_flag=True, help="Reject instead: the step fails.")
def approve(pipeline_run_id: int, step: str, reject: bool) -> None:
    """Decide an approval STEP of a pipeline run (release managers)."""
    body = {"step": step, "approve": not reject}
    click.echo(headline(api_client().pipeline_run_action(pipeline_run_id, "decide", body)))


COMMANDS = (pipeline,)
