"""The ``playdeck`` command.

``deploy``, ``relaunch``, ``cancel``, ``runs``, ``freeze`` and ``schedule`` talk to the JSON API (PLAYDECK_URL) with
an API token (PLAYDECK_TOKEN), so a run started from a terminal is validated, recorded and dispatched exactly like one
started in the UI, as the token's user. ``db``, ``worker``, ``web`` and ``up`` run the local services;
``project``, ``env``, ``workers``, ``drain``, ``user``, ``token``, ``notify`` and ``sso`` work on the database directly
(``ldap check`` reads the directory and the group mapping rules):
they are for whoever administers the server (has its configuration). Exit codes: 0 done (for ``deploy --wait`` and
``relaunch --wait``: the run succeeded), 1 the run did not succeed or a local failure, 2 bad input or
refused by the API, 3 API unreachable, 4 API error.

The commands live beside the code only they use: ``runs`` (with ``apiclient`` and the ``progress`` line),
``freezes``, ``schedules``, ``pipelines``, ``admin``, ``notify``, ``sso``, ``ldap``, ``projects``, ``workers`` and
``services`` (with the ``supervisor`` set-up of ``up``); ``common`` and ``output`` are what they share. This module
is the group, its error handling, and ``main``.
"""

from __future__ import annotations

from typing import Any

import click

from playdeck import private_files
from playdeck.cli import admin, freezes, ldap, notify, pipelines, projects, runs, schedules, services, sso, workers
from playdeck.cli.apiclient import ApiError, ApiUnreachable
from playdeck.cli.common import EXIT_REFUSED, EXIT_RUN_FAILED, EXIT_SERVER_ERROR, EXIT_UNREACHABLE, CommandFailed
from playdeck.errors import PlaydeckError

UNAUTHENTICATED_HINT = (
    "set PLAYDECK_TOKEN to an API token of yours (an administrator creates one: playdeck token create USER)"
)


class PlaydeckGroup(click.Group):
    """Turns the errors a user can cause into a message and an exit code, for every subcommand."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApiUnreachable as exc:
            raise CommandFailed(exc.message, EXIT_UNREACHABLE) from None
        except ApiError as exc:
            code = EXIT_REFUSED if exc.status_code < 500 else EXIT_SERVER_ERROR
            message = f"the API answered {exc.status_code}: {exc.message}"
            if exc.status_code == 401:
                message += f"; {UNAUTHENTICATED_HINT}"
            raise CommandFailed(message, code) from None
        except PlaydeckError as exc:
            raise CommandFailed(exc.message, EXIT_REFUSED) from None
        except OSError as exc:
            raise CommandFailed(str(exc), EXIT_RUN_FAILED) from None


@click.group(cls=PlaydeckGroup)
def cli() -> None:
    """Playdeck: deploy with Ansible from a web UI, an API or this command."""
    # Before anything is created: web, worker and reaper exec from here and keep it (playdeck.private_files).
    private_files.restrict_umask()


for command_module in (runs, freezes, schedules, pipelines, admin, notify, projects, workers, services, sso, ldap):
    for command in command_module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    cli(prog_name="playdeck")
