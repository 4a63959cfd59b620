"""Audit trail: who did what. `record` adds an entry to the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from webapp.extensions import db
from webapp.models import AuditEntry, Program, utcnow

# Built once: constructing an INSERT with its values on every call costs more than
# running it. Executed with a parameter dict, the compiled form is cached.
_INSERT = AuditEntry.__table__.insert()


class Subject(Protocol):
    """What an entry is about: a `Registration`, or just its ids."""

    @property
    def id(self) -> int: ...

    @property
    def program_id(self) -> int: ...


@dataclass(frozen=True)
class Actor:
    """Who is acting: a participant (on their own registration), an organiser, or the
    system (imports, the worker, beat)."""

    type: str
    organiser_id: int | None = None

    @classmethod
    def participant(cls) -> Actor:
        return cls("participant")

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def organiser(cls, organiser_id: int) -> Actor:
        return cls("organiser", organiser_id)


def record(
    actor: Actor,
    action: str,
    *,
    program: Program | None = None,
    registration: Subject | None = None,
    **details: Any,
) -> None:
    """Add an audit entry to the current transaction (the caller commits). A plain
    INSERT: entries are never read back in the transaction that writes them."""
    db.session.execute(
        _INSERT,
        {
            "actor_type": actor.type,
            "organiser_id": actor.organiser_id,
            "action": action,
            "program_id": program.id if program is not None else (registration.program_id if registration else None),
            "registration_id": registration.id if registration is not None else None,
            "details": details,
            "created_at": utcnow(),
        },
    )
