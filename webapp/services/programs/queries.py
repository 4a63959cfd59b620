"""Reading programs: for public pages (and what a participant can do now), for the
registration form, and by id."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Row, bindparam, select

from webapp.extensions import db
from webapp.models import Program, utcnow
from webapp.services.errors import ProgramNotFound
from webapp.services.registrations import count_confirmed, rules


@dataclass(frozen=True)
class Availability:
    """What a participant can do now, and why.

    state: "open", "closing_soon", "waitlist" (full, waitlist open), "full",
    "not_yet_open", "closed", "cancelled".
    """

    state: str
    confirmed: int
    seats_left: int | None
    deadline: datetime
    opens_at: datetime | None
    time_left: timedelta | None

    @property
    def accepting(self) -> bool:
        return self.state in {"open", "closing_soon", "waitlist"}


def availability(program: Program, now: datetime | None = None) -> Availability:
    """What a participant can do now (`rules.availability_state`), with the seats left."""
    now = now or utcnow()
    confirmed = count_confirmed(program.id)
    return Availability(
        state=rules.availability_state(program, confirmed, now),
        confirmed=confirmed,
        seats_left=rules.free_seats(program, confirmed),
        deadline=program.registration_deadline,
        opens_at=program.registration_opens_at,
        time_left=program.registration_deadline - now if now < program.registration_deadline else None,
    )


def list_public_programs(now: datetime | None = None) -> list[Program]:
    """Published, closed and cancelled programs: upcoming ones first (soonest first),
    then past ones (most recent first). Drafts and archived programs are not public."""
    now = now or utcnow()
    programs = list(db.session.scalars(select(Program).where(Program.status.in_(("published", "closed", "cancelled")))))

    def key(p: Program) -> tuple[int, float]:
        end = p.last_end
        start = p.first_start
        if end is not None and end > now and start is not None:
            return (0, start.timestamp())
        return (1, -(end.timestamp() if end else 0))

    return sorted(programs, key=key)


# Every public page and every registration starts here: built once, cached compiled.
_PROGRAM_BY_SLUG = select(Program).where(Program.slug == bindparam("slug"))


def get_public_program(slug: str) -> Program:
    program = db.session.scalar(_PROGRAM_BY_SLUG, {"slug": slug})
    if program is None or program.status in ("draft", "archived"):
        raise ProgramNotFound(slug)
    return program


# What a submitted registration form (and the "check your inbox" page after it) needs
# of its program; the rules themselves are checked again under the program lock
# (`registrations.register_participant`).
_FORM_PROGRAM_BY_SLUG = select(
    Program.__table__.c.id,
    Program.__table__.c.slug,
    # The text `localized.program_text` gives the done page, in the reader's language.
    Program.__table__.c.title,
    Program.__table__.c.summary,
    Program.__table__.c.description,
    Program.__table__.c.organiser_name,
    Program.__table__.c.language,
    Program.__table__.c.translations,
    Program.__table__.c.status,
    Program.__table__.c.timezone,
    Program.__table__.c.questions,
).where(Program.__table__.c.slug == bindparam("slug"))


def get_form_program(slug: str) -> Row[Any]:
    """`get_public_program` for a submitted form and the page after it: id, slug,
    status, timezone, questions and the program's text only, as one light row rather
    than a loaded `Program` (with its sessions).

    Each process remembers the row for ``FORM_PROGRAM_CACHE_SECONDS`` (in a rush every
    submission asks for the same one). Staleness is harmless: the participant's form
    was rendered from an older copy still, and `register_participant` judges the
    program's state, deadline and seats afresh under its lock, so a program
    unpublished, closed or deleted meanwhile is refused there."""
    ttl = float(current_app.config["FORM_PROGRAM_CACHE_SECONDS"])
    cache: dict[str, tuple[float, Row[Any] | None]] = current_app.extensions.setdefault("form_programs", {})
    now = time.monotonic()
    cached = cache.get(slug) if ttl > 0 else None
    if cached is not None and cached[0] > now:
        program = cached[1]
    else:
        program = db.session.connection().execute(_FORM_PROGRAM_BY_SLUG, {"slug": slug}).first()
        if ttl > 0:
            if len(cache) >= 1024:  # programs are few; never let guessed slugs grow it
                cache.clear()
            cache[slug] = (now + ttl, program)
    if program is None or program.status in ("draft", "archived"):
        raise ProgramNotFound(slug)
    return program


def get_program(program_id: int) -> Program:
    program = db.session.get(Program, program_id)
    if program is None:
        raise ProgramNotFound(str(program_id))
    return program
