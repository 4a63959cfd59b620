"""Queries for the organiser's overview."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

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


ACTIVE = ("confirmed", "waitlisted", "pending")


@dataclass
class DayCount:
    day: date
    count: int


@dataclass
class ProgramStats:
    by_status: dict[str, int]
    by_country: list[tuple[str, int]]
    per_day: list[DayCount]
    emails: dict[str, int]
    oldest_pending: datetime | None
    seats_left: int | None


def program_stats(program: Program, days: int = 30) -> ProgramStats:
    """Registrations per day (in the program's zone) over the last `days` days with any
    activity, by status, by country, and email health, in four grouped queries."""
    zone = ZoneInfo(program.timezone)
    by_status = dict(
        db.session.execute(
            select(Registration.status, func.count())
            .where(Registration.program_id == program.id)
            .group_by(Registration.status)
        )
        .tuples()
        .all()
    )
    by_country = list(
        db.session.execute(
            select(Registration.country, func.count())
            .where(
                Registration.program_id == program.id, Registration.status.in_(("confirmed", "waitlisted", "pending"))
            )
            .group_by(Registration.country)
            .order_by(func.count().desc(), Registration.country)
        ).tuples()
    )
    # Grouping by local day is done here rather than in SQL so that it is the same on
    # PostgreSQL and SQLite; only the timestamps of one program are read.
    counts: dict[date, int] = {}
    for (created,) in db.session.execute(
        select(Registration.created_at).where(Registration.program_id == program.id)
    ).tuples():
        day = created.astimezone(zone).date()
        counts[day] = counts.get(day, 0) + 1
    per_day: list[DayCount] = []
    if counts:
        last = max(max(counts), datetime.now(zone).date())
        first = max(min(counts), last - timedelta(days=days - 1))
        per_day = [
            DayCount(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0))
            for i in range((last - first).days + 1)
        ]
    emails: dict[str, int] = {}
    oldest = None
    for status, count, earliest in db.session.execute(
        select(Email.status, func.count(), func.min(Email.created_at))
        .join(Registration, Email.registration_id == Registration.id)
        .where(Registration.program_id == program.id)
        .group_by(Email.status)
    ):
        emails[status] = count
        if status in ("pending", "sending"):
            oldest = earliest if oldest is None else min(oldest, earliest)
    confirmed = by_status.get("confirmed", 0)
    seats_left = None if program.capacity is None else max(program.capacity - confirmed, 0)
    return ProgramStats(by_status, by_country, per_day, emails, oldest, seats_left)
