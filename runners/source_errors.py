"""The one error of preparing a run's source (its checkout, playbook, inventory, requirements)."""

from __future__ import annotations

from playdeck.errors import PlaydeckError


class SourceUnavailable(PlaydeckError):
    """The run's source cannot be prepared (a commit a force-push removed, a playbook missing at that commit or
    leaving the checkout, a Galaxy server that does not answer): the run ends in error with this message as its
    reason, before its playbook starts."""
