"""Actions that cannot be taken back ask first: a deploy to a protected environment, cancel, relaunch, unprotect.

Their forms carry a ``confirm`` field the server requires. With JavaScript, confirm.js and deploy_form.js open
a dialog naming what will happen (project, environment, version, hosts) and send ``confirm`` when the person
agrees. Without it, a form posted without ``confirm`` is answered by a confirmation page (or, for a deploy, the
form again with a confirmation box) naming the same, whose button posts the same fields with ``confirm``. The
JSON API and the CLI do not ask: a program has decided already.
"""

from __future__ import annotations

from flask import render_template, request

CONFIRM_FIELD = "confirm"
YES = "yes"


def confirmed() -> bool:
    return request.form.get(CONFIRM_FIELD) == YES


def ask(question: str, facts: list[tuple[str, str]], button: str, back: str) -> tuple[str, int]:
    """The confirmation page for the request being posted: ``facts`` (label, value) say what will happen; its
    form posts the same fields again (never a secret: only forms without one ask this way) with ``confirm``."""
    fields = [
        (name, value) for name, value in request.form.items(multi=True) if name not in ("csrf_token", CONFIRM_FIELD)
    ]
    return render_template(
        "confirm.html", question=question, facts=facts, button=button, back=back, action=request.path, fields=fields
    ), 200
