"""The one error the DNS service adds to playdeck.errors: an edit based on a stale read."""

from __future__ import annotations

from playdeck.errors import Conflict


class StaleVersion(Conflict):
    """The caller read version ``expected``; the row is at ``current`` now. Nothing was written.

    A 409 like any Conflict; an API that took the version from ``If-Match`` answers 412 instead.
    """

    def __init__(self, what: str, expected: int, current: int) -> None:
        super().__init__(
            f"{what} was changed by someone else since you read it (version {current}, you had {expected}); "
            "reload it and try again"
        )
        self.expected = expected
        self.current = current
