"""Each destination kind's message for a run's event, written once when the event happens.

slack: ``{"text": ...}`` (Slack's and Mattermost's incoming webhooks); teams: a message with one Adaptive
Card (what a Teams "workflow" webhook takes) with the run's facts and a button that opens it; json: the
run as an object (``{"event": "run.<event>", "run": {...}}``); email: a subject and a plain-text body that
ends with the link to the run (kept as JSON in the outbox, mailed by ``playdeck.notifications.smtp``).
A run's texts (its reason, who asked) are data: escaped for Slack's markup, never put in a mail header.
"""

from __future__ import annotations

import json
from typing import Any

from playdeck.commit_label import source_label
from playdeck.notifications.events import PHRASES
from playdeck.runs import failure_summary

_SLACK_MARK = {
    "started": ":arrow_forward:",
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
    "fixed": ":white_check_mark:",
    "canceled": ":black_square_for_stop:",
    "timeout": ":hourglass:",
    "lost": ":warning:",
    "approval_requested": ":raised_hand:",
    "approved": ":+1:",
    "rejected": ":no_entry:",
    "expired": ":hourglass:",
    "freeze_overridden": ":snowflake:",
    "running_long": ":turtle:",
    "pipeline_succeeded": ":white_check_mark:",
    "pipeline_failed": ":x:",
    "pipeline_canceled": ":black_square_for_stop:",
    "test": ":bell:",
}
# The project webhooks' events read as their names, as they always have.
_WEBHOOK_EVENTS = frozenset({"started", "succeeded", "failed", "canceled", "timeout", "lost"})
# A chat message or a mail names this many failed hosts; the JSON format and the run page have them all.
SUMMARY_LINES = 5
_TEAMS_COLOR = {"failed": "attention", "timeout": "attention", "lost": "attention", "rejected": "attention",
               "pipeline_failed": "attention"}  # fmt: skip


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _phrase(event: str) -> str:
    return event if event in _WEBHOOK_EVENTS else PHRASES.get(event, event)


def _what(run: dict[str, Any]) -> str:
    deployed = source_label(run)
    return f"{run['kind']} {deployed}" if deployed else run["kind"]


def _detail(event: str, run: dict[str, Any]) -> str:
    """After the headline: how long it took, and why it ended so (not for a success)."""
    line = ""
    if run["duration_seconds"] is not None:
        line += f" after {run['duration_seconds']:.0f} s"
    if event == "freeze_overridden" and run.get("freeze_override"):
        line += f": {run['freeze_override'][:500]}"
    elif run["reason"] and event not in ("succeeded", "fixed"):
        line += f": {run['reason'][:500]}"
    return line


def _why(run: dict[str, Any]) -> list[str]:
    """The failure summary's first lines (``playdeck.runs.failure_summary``); the JSON format has it whole."""
    return failure_summary.lines(run.get("failure_summary"))[:SUMMARY_LINES]


def slack_text(event: str, run: dict[str, Any]) -> str:
    line = (
        f"{_SLACK_MARK.get(event, ':bell:')} {slack_escape(run['project'])}/{slack_escape(run['environment'])}: "
        f"<{run['url']}|run {run['id']}> ({slack_escape(_what(run))} by {slack_escape(run['requested_by'])}) "
        f"{_phrase(event)}{slack_escape(_detail(event, run))}"
    )
    return "\n".join([line, *(f"• {slack_escape(why)}" for why in _why(run))])


def headline(event: str, run: dict[str, Any]) -> str:
    return f"{run['project']}/{run['environment']}: run {run['id']} {_phrase(event)}"


def teams_card(event: str, run: dict[str, Any]) -> dict[str, Any]:
    facts = [
        {"title": "What", "value": _what(run)},
        {"title": "Requested by", "value": run["requested_by"]},
        {"title": "State", "value": run["state"]},
    ]
    if _detail(event, run):
        facts.append({"title": "Detail", "value": _detail(event, run).lstrip(" :")})
    card = {
        "body": [
            {"type": "TextBlock", "text": headline(event, run), "weight": "Bolder", "size": "Medium", "wrap": True,
             "color": _TEAMS_COLOR.get(event, "default")},
            {"type": "FactSet", "facts": facts},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open the run", "url": run["url"]}],
    }  # fmt: skip
    return _teams_message(card)


def _teams_message(card: dict[str, Any]) -> dict[str, Any]:
    """A Teams message carrying one Adaptive Card."""
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                         "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                                     "type": "AdaptiveCard", "version": "1.4", **card}}],
    }  # fmt: skip


def email(event: str, run: dict[str, Any]) -> dict[str, str]:
    lines = [
        f"Run {run['id']} of {run['project']} to {run['environment']} {_phrase(event)}.",
        "",
        f"What: {_what(run)}",
        f"Requested by: {run['requested_by']}",
        f"State: {run['state']}",
    ]
    if _detail(event, run):
        lines.append(f"Detail: {_detail(event, run).lstrip(' :')}")
    lines += [f"  {why}" for why in _why(run)]
    action = "Approve or reject it" if event == "approval_requested" else "Open the run"
    lines += ["", f"{action}: {run['url']}", ""]
    return {"subject": f"[Playdeck] {headline(event, run)}", "text": "\n".join(lines)}


def render(kind: str, event: str, run: dict[str, Any]) -> str:
    """The body stored in the outbox for a destination (or webhook format) of ``kind``."""
    if kind == "slack":
        return json.dumps({"text": slack_text(event, run)})
    if kind == "teams":
        return json.dumps(teams_card(event, run))
    if kind == "email":
        return json.dumps(email(event, run))
    return json.dumps({"event": f"run.{event}", "run": run}, sort_keys=True)


def render_test(kind: str, name: str, sent_by: str) -> str:
    """What a test notification of destination ``name`` says."""
    text = f"Playdeck test notification for destination {name} (sent by {sent_by})"
    if kind == "slack":
        return json.dumps({"text": f"{_SLACK_MARK['test']} {slack_escape(text)}"})
    if kind == "teams":
        return json.dumps(_teams_message({"body": [{"type": "TextBlock", "text": text, "wrap": True}]}))
    if kind == "email":
        return json.dumps({"subject": "[Playdeck] test notification", "text": text + "\n"})
    return json.dumps({"event": "test", "destination": name, "sent_by": sent_by}, sort_keys=True)
