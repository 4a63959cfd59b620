"""The attendee list: search, filters, sorting, pages and counts, in a few indexed
queries however many registrants a program has."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, func, select

from webapp.extensions import db
from webapp.models import REGISTRATION_STATUSES, Program, Registration
from webapp.services.attendance import attended_condition, minutes_attended
from webapp.services.text import single_line

SORTS: dict[str, Any] = {
    "name": Registration.full_name,
    "email": Registration.email_normalized,
    "organisation": Registration.organisation,
    "country": Registration.country,
    "status": Registration.status,
    "registered": Registration.created_at,
    # "attended" sorts by `attendance.attended_condition`, which depends on the program.
    "attended": None,
}


@dataclass(frozen=True)
class AttendeeQuery:
    """What the organiser asked for. Dates are days in the program's time zone."""

    q: str = ""
    status: str | None = None
    country: str | None = None
    registered_from: date | None = None
    registered_to: date | None = None
    attended: bool | None = None
    sort: str = "registered"
    descending: bool = True
    page: int = 1
    per_page: int = 50

    def without_status(self) -> AttendeeQuery:
        return replace(self, status=None)


@dataclass
class AttendeePage:
    items: list[Registration]
    total: int
    page: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)
    # Of `items`: who attended (`attendance.attended_condition`), and minutes recorded.
    attended: set[int] = field(default_factory=set)
    minutes: dict[int, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def conditions(program: Program, query: AttendeeQuery) -> list[ColumnElement[bool]]:
    """The WHERE clause for `query` (also used by exports and bulk actions)."""
    where: list[ColumnElement[bool]] = [Registration.program_id == program.id]
    # One line (`search_text` puts its fields on lines of their own), as stored: NFC.
    text = single_line(query.q)
    if text:
        # One LIKE on the lower-cased `Registration.search_text`, the text lower-cased
        # by the same database function. On PostgreSQL its trigram index (migration
        # 0012) serves it; a search of one or two characters has no trigram to look
        # up, so PostgreSQL reads the program's rows instead: the same results.
        where.append(Registration.search_text.like(func.lower(_like(text)), escape="\\"))
    if query.status in REGISTRATION_STATUSES:
        where.append(Registration.status == query.status)
    if query.country:
        where.append(Registration.country == query.country.upper())
    zone = ZoneInfo(program.timezone)
    if query.registered_from:
        where.append(Registration.created_at >= _day_start(query.registered_from, zone))
    if query.registered_to:
        where.append(Registration.created_at < _day_start(query.registered_to + timedelta(days=1), zone))
    if query.attended is True:
        where.append(attended_condition(program))
    elif query.attended is False:
        where.append(~attended_condition(program))
    return where


def matching(program: Program, query: AttendeeQuery) -> Select[tuple[Registration]]:
    """Every registration matching `query`, sorted (no paging)."""
    column = SORTS.get(query.sort)
    if query.sort == "attended":
        column = case((attended_condition(program), 1), else_=0)
    elif column is None:
        column = Registration.created_at
    # No NULLS LAST: every sort column is NOT NULL, and PostgreSQL walks a (program_id,
    # column) index backwards only in its own order, DESC NULLS FIRST. With it, the
    # newest-first page sorted all of a program's rows to show fifty.
    order = column.desc() if query.descending else column.asc()
    tiebreak = Registration.id.desc() if query.descending else Registration.id.asc()
    return select(Registration).where(*conditions(program, query)).order_by(order, tiebreak)


def list_attendees(program: Program, query: AttendeeQuery) -> AttendeePage:
    """One page, the total matching, and counts by status for the tabs (the same
    filters without the status, so each tab says what clicking it would show)."""
    per_page = min(max(query.per_page, 10), 500)
    counts = dict(
        db.session.execute(
            select(Registration.status, func.count())
            .where(*conditions(program, query.without_status()))
            .group_by(Registration.status)
        )
        .tuples()
        .all()
    )
    total = sum(counts.values()) if query.status not in REGISTRATION_STATUSES else counts.get(query.status, 0)
    pages = max((total + per_page - 1) // per_page, 1)
    page = min(max(query.page, 1), pages)
    items = list(db.session.scalars(matching(program, query).limit(per_page).offset((page - 1) * per_page)))
    # Attendance of this page's rows only, in a second query: as columns of the paged
    # query, PostgreSQL works them out for every row it sorts or skips (a last page of
    # 50,000 took 390 ms instead of 100).
    rows = db.session.execute(
        select(
            Registration.id, attended_condition(program).label("attended"), minutes_attended(program).label("minutes")
        ).where(Registration.id.in_([item.id for item in items]))
    ).all()
    return AttendeePage(
        items=items,
        total=total,
        page=page,
        per_page=per_page,
        counts=counts,
        attended={row.id for row in rows if row.attended},
        minutes={row.id: row.minutes for row in rows if row.minutes},
    )


def country_counts(program: Program) -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(Registration.country, func.count())
        .where(Registration.program_id == program.id)
        .group_by(Registration.country)
        .order_by(func.count().desc())
    ).tuples()
    return list(rows)
