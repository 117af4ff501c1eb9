"""webhook_deliveries: keep only the status line of receivers' answers already recorded

Before this revision an attempt's error held up to 200 characters of the receiver's answer
("HTTP 500: <body>"), shown to admins on the delivery log: a webhook aimed at an internal service could
read it. New attempts record the status line only (playdeck.webhook_delivery); this cuts the bodies out
of what is stored ("HTTP 500", keeping "(gave up after N attempts)"). Not reversible: downgrade keeps
the status lines.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 23:45:00.000000
"""

import json
import re

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

_WITH_BODY = re.compile(r"^(HTTP \d{3}): .*?( \(gave up after \d+ attempts\))?$", re.S)


def status_line(error: str) -> str:
    found = _WITH_BODY.match(error)
    return found.group(1) + (found.group(2) or "") if found else error


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, last_error, attempts_json FROM webhook_deliveries "
                "WHERE last_error LIKE 'HTTP %' OR attempts_json LIKE '%HTTP %'")
    ).all()
    for delivery_id, last_error, attempts_json in rows:
        attempts = json.loads(attempts_json or "[]")
        for attempt in attempts:
            attempt["error"] = status_line(attempt.get("error") or "")
        connection.execute(
            sa.text("UPDATE webhook_deliveries SET last_error = :error, attempts_json = :attempts WHERE id = :id"),
            {"error": status_line(last_error or ""), "attempts": json.dumps(attempts), "id": delivery_id},
        )


def downgrade() -> None:
    pass
