"""Typed errors of the service layer; the web and CLI layers turn them into 4xx answers and exit codes."""

from __future__ import annotations


class PlaydeckError(Exception):
    """Base of every error a user can cause and should be told about."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(PlaydeckError):
    status_code = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(PlaydeckError):
    status_code = 404


class Conflict(PlaydeckError):
    status_code = 409


class IllegalTransition(Conflict):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a run in state '{current}' cannot become '{target}'")
        self.current = current
        self.target = target


class DispatchError(PlaydeckError):
    """The broker did not take the message; the run stays queued in the DB, which is the truth."""

    status_code = 503
