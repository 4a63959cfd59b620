"""What every change to a registration shares: the person's input, the outcome, the
self-service token, the program's lock, and writing details and statuses.

Every state change in this package runs in one `unit_of_work` that holds the program's
row lock (PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite: every transaction is ``BEGIN
IMMEDIATE``), so capacity, the waitlist order and "one person, one registration" hold
under any concurrency. Each writes its outbox rows in that same transaction; they are
handed to the broker only after the commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from webapp.database import is_postgresql
from webapp.extensions import db
from webapp.models import Program, Registration
from webapp.services.errors import ProgramNotFound
from webapp.services.text import single_line
from webapp.services.zoom.registrants import registration_left

ACTIVE_STATUSES = ("pending", "confirmed", "waitlisted")
# The email a registration gets when it reaches each status.
EMAIL_FOR_STATUS = {"confirmed": "confirmation", "waitlisted": "waitlisted", "pending": "pending"}
TOKEN_SELECTOR_LENGTH = 16


@dataclass(frozen=True)
class RegistrationInput:
    """What a participant typed. Shape is checked by the form; rules are checked here."""

    full_name: str
    email: str
    country: str
    organisation: str = ""
    job_title: str = ""
    language: str = "en"
    timezone: str = "UTC"
    consent: bool = True
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RegistrationOutcome:
    """What happened. `created` is False when the email was already registered: callers
    must not show that difference to the person (no enumeration). `program_full` says
    the program had no seat for a newcomer, so the person must see the page a newcomer
    refused as fully booked sees (Rule 3), though this registrant was emailed."""

    registration_id: int
    status: str
    created: bool
    program_full: bool = False


def new_token() -> str:
    """256 bits from `secrets`, URL-safe; the first characters double as the selector."""
    return secrets.token_urlsafe(32)


def _use_row_lock() -> bool:
    """PostgreSQL needs the program's row lock; SQLite transactions are exclusive
    already (`test_concurrency` shows what happens without it)."""
    return is_postgresql()


def lock_program(program_id: int) -> Program:
    """Load the program holding its row lock until commit: the guard that serialises
    every change to its seats. (SQLite transactions are already exclusive.)"""
    stmt = select(Program).where(Program.id == program_id).execution_options(populate_existing=True)
    if _use_row_lock():
        stmt = stmt.with_for_update()
    program = db.session.scalar(stmt)
    if program is None:
        raise ProgramNotFound(str(program_id))
    return program


def set_status(registration: Registration, status: str, now: datetime) -> None:
    """Move a registration to `status` in the caller's transaction. Leaving confirmed
    (cancel, reject, back to the waiting list) also cancels its Zoom places, after the
    commit."""
    if registration.status == "confirmed" and status != "confirmed" and registration.id is not None:
        registration_left(registration.id)
    registration.status = status
    registration.status_changed_at = now
    registration.revision = (registration.revision or 0) + 1
    stamp = {
        "confirmed": "confirmed_at",
        "waitlisted": "waitlisted_at",
        "cancelled": "cancelled_at",
        "rejected": "rejected_at",
    }.get(status)
    if stamp:
        setattr(registration, stamp, now)


def new_registration(program: Program, email_normalized: str, now: datetime) -> Registration:
    token = new_token()
    registration = Registration(
        program_id=program.id,
        email_normalized=email_normalized,
        token=token,
        token_selector=token[:TOKEN_SELECTOR_LENGTH],
        revision=0,
        created_at=now,
        updated_at=now,
    )
    db.session.add(registration)
    return registration


def details(data: RegistrationInput, default_timezone: str, now: datetime) -> dict[str, Any]:
    """What the person typed, cleaned (no line breaks can reach an email header), as
    registration columns."""
    return {
        "email": single_line(data.email, 254),
        "full_name": single_line(data.full_name, 200),
        "country": single_line(data.country, 2).upper(),
        "organisation": single_line(data.organisation, 200),
        "job_title": single_line(data.job_title, 200),
        "language": single_line(data.language, 16) or "en",
        "timezone": single_line(data.timezone, 64) or default_timezone,
        "answers": dict(data.answers),
        "consent_at": now if data.consent else None,
    }


def apply_details(registration: Registration, data: RegistrationInput, default_timezone: str, now: datetime) -> None:
    """Copy what the person typed onto a registration (`details`)."""
    for column, value in details(data, default_timezone, now).items():
        setattr(registration, column, value)
    registration.cancelled_at = None
