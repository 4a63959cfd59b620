"""Domain exceptions. Views turn them into messages for people."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """A rule said no. `str()` is for logs; views write their own words."""


class ProgramNotFound(DomainError):
    pass


class RegistrationNotOpen(DomainError):
    def __init__(self, opens_at: datetime) -> None:
        super().__init__(f"registration opens at {opens_at.isoformat()}")
        self.opens_at = opens_at


class RegistrationClosed(DomainError):
    """The deadline has passed, or the program is not taking registrations."""

    def __init__(self, deadline: datetime | None) -> None:
        super().__init__(f"registration closed at {deadline.isoformat()}" if deadline else "registration closed")
        self.deadline = deadline


class ProgramFull(DomainError):
    pass


class RegistrationExists(DomainError):
    """That email address is registered for the program already."""

    def __init__(self, registration_id: int) -> None:
        super().__init__(f"already registered as {registration_id}")
        self.registration_id = registration_id


class ProgramImportError(DomainError):
    """A program file has problems; nothing was changed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class ParticipantReportError(DomainError):
    """An uploaded participant report cannot be read; nothing was changed.

    `reason` is one of: too_large, empty, not_text, no_columns, bad_minutes, too_many_rows;
    `line` is the file's line the problem is on, where there is one."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(f"{reason} (line {line})" if line else reason)
        self.reason = reason
        self.line = line


class CertificatesUnavailable(DomainError):
    """Certificates cannot be sent for this program (now).

    `reason` is one of: not_enabled (the program's option is off), cancelled (the
    program is), not_yet (its last session has not ended: `ends_at` says when it does)."""

    def __init__(self, reason: str, ends_at: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ends_at = ends_at


class CertificateNotRendered(DomainError):
    """The certificate's PDF could not be made (the renderer said it is unavailable)."""
