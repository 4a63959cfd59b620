"""Queries for the organiser's overview."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Email, Organiser, Program, Registration
from webapp.services.access import visible_programs


@dataclass
class ProgramRow:
    program: Program
    by_status: dict[str, int] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)
    oldest_pending: datetime | None = None

    @property
    def seats_left(self) -> int | None:
        if self.program.capacity is None:
            return None
        return max(self.program.capacity - self.by_status.get("confirmed", 0), 0)


def program_overview(organiser: Organiser) -> list[ProgramRow]:
    """Every program with counts by registration status and by email status, in two
    grouped queries rather than one per program."""
    programs = list(db.session.scalars(visible_programs(organiser).order_by(Program.registration_deadline.desc())))
    rows = {p.id: ProgramRow(p) for p in programs}
    for program_id, status, count in db.session.execute(
        select(Registration.program_id, Registration.status, func.count())
        .where(Registration.program_id.in_(rows))
        .group_by(Registration.program_id, Registration.status)
    ):
        rows[program_id].by_status[status] = count
    for program_id, status, count, oldest in db.session.execute(
        select(Registration.program_id, Email.status, func.count(), func.min(Email.created_at))
        .join(Registration, Email.registration_id == Registration.id)
        .where(Registration.program_id.in_(rows))
        .group_by(Registration.program_id, Email.status)
    ):
        rows[program_id].emails[status] = count
        if status == "pending":
            rows[program_id].oldest_pending = oldest
    return list(rows.values())
