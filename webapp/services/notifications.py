"""Emails to everyone concerned when a session or program changes.

Each function adds outbox rows to the caller's transaction (one statement however many
registrants) and returns their ids; the caller's `unit_of_work` hands them over after it
commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, select

from webapp.models import Program, ProgramSession, Registration
from webapp.services.outbox import queue_bulk


def _registrants(program_id: int, statuses: Iterable[str]) -> Select[tuple[int, str]]:
    return select(Registration.id, Registration.email).where(
        Registration.program_id == program_id, Registration.status.in_(tuple(statuses))
    )


def session_updated(session: ProgramSession, previous_start: datetime) -> list[int]:
    """Confirmed registrants learn the new time or link; the .ics keeps its UID with a
    higher SEQUENCE. One email per registrant per version of the session."""
    return queue_bulk(
        "session_updated",
        _registrants(session.program_id, ["confirmed"]),
        dedupe_key=lambda rid: f"session_updated:{session.id}:s{session.ics_sequence}:{rid}",
        session_id=session.id,
        payload={"previous_starts_at": previous_start.isoformat()},
    )


def session_cancelled(session: ProgramSession) -> list[int]:
    """Confirmed registrants learn a session will not take place (.ics METHOD:CANCEL)."""
    return queue_bulk(
        "session_cancelled",
        _registrants(session.program_id, ["confirmed"]),
        dedupe_key=lambda rid: f"session_cancelled:{session.id}:{rid}",
        session_id=session.id,
    )


def program_cancelled(program: Program) -> list[int]:
    """Everyone still registered (confirmed, waitlisted, pending) learns the program is
    cancelled; confirmed registrants' calendars drop the sessions."""
    return queue_bulk(
        "program_cancelled",
        _registrants(program.id, ["confirmed", "waitlisted", "pending"]),
        dedupe_key=lambda rid: f"program_cancelled:{program.id}:{rid}",
    )
