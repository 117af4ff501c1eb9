"""Typed errors of the service layer; the web and CLI layers turn them into 4xx answers and exit codes."""

from __future__ import annotations

from collections.abc import Callable, Iterable


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
        # The message without the field's name, for a form that shows it beside the field.
        self.field_message = message


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


class Unauthenticated(PlaydeckError):
    """No valid credential came with the request (or a login failed)."""

    status_code = 401


class Forbidden(PlaydeckError):
    """The caller is known but their role or grants do not allow this."""

    status_code = 403


class TooManyAttempts(PlaydeckError):
    """Failed logins for this name or address: the next attempt must wait ``retry_after`` seconds."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FieldErrors(ValidationError):
    """Several fields refused at once, so a person can mend them all in one go. ``field`` and the first line of
    ``message`` are the first error's (what a client that reads one error shows); ``errors`` has them all."""

    def __init__(self, errors: list[ValidationError]) -> None:
        PlaydeckError.__init__(self, "; ".join(error.message for error in errors))
        self.field = errors[0].field
        self.field_message = errors[0].field_message
        self.errors = errors


def each_error(error: ValidationError) -> list[ValidationError]:
    return list(error.errors) if isinstance(error, FieldErrors) else [error]


def collect(checks: Iterable[Callable[[], object]]) -> list[ValidationError]:
    """Run every check; the ValidationErrors they raise (each of a FieldErrors), in order."""
    errors: list[ValidationError] = []
    for check in checks:
        try:
            check()
        except ValidationError as exc:
            errors += each_error(exc)
    return errors


def raise_all(errors: list[ValidationError]) -> None:
    """Nothing if ``errors`` is empty; the one error as it is; several as one FieldErrors."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise FieldErrors(errors)


class DirectoryUnavailable(PlaydeckError):
    """The company's directory (LDAP) did not answer, or not over a connection we trust: nobody can log in
    with it just now (local accounts still can). ``detail`` says why, for administrators (logs, ``playdeck ldap
    check``): not for the login page."""

    status_code = 503

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail
