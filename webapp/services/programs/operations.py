"""Changing programs: creating (never over another program), updating by id,
importing from the command line (by slug), publishing, closing or cancelling, running
one again, and the demo. Each change is one `unit_of_work`: registrants are emailed
about changed and cancelled sessions after it commits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import PROGRAM_STATUSES, Organiser, Program, ProgramSession, utcnow
from webapp.services import audit, notifications
from webapp.services.audit import Actor
from webapp.services.errors import ProgramImportError, ProgramNotFound
from webapp.services.programs.queries import get_program
from webapp.services.programs.spec import (
    ProgramSpec,
    SessionSpec,
    moved_file,
    not_one_of,
    program_file,
    validate_program_data,
)
from webapp.services.registrations import promote_from_waitlist
from webapp.services.transactions import unit_of_work
from webapp.services.zoom import is_configured as zoom_is_configured
from webapp.services.zoom import sessions as zoom_objects


def _match_sessions(existing: list[ProgramSession], specs: list[SessionSpec]) -> list[ProgramSession | None]:
    """Pair each session of the file with an existing one: same title first, then the
    remaining ones in start order. Unpaired specs are new sessions."""
    free = list(existing)
    matched: list[ProgramSession | None] = [None] * len(specs)
    for index, spec in enumerate(specs):
        same = next((s for s in free if s.title == spec.title), None)
        if same is not None:
            matched[index] = same
            free.remove(same)
    for index in range(len(specs)):
        if matched[index] is None and free:
            matched[index] = free.pop(0)
    return matched


def import_program(data: Any, *, actor: Actor) -> tuple[Program, bool]:
    """The command line's import: create the program, or update the one with the file's
    slug. Only an operator at the console may address a program by its slug; organisers
    in the browser go through `create_program` (which refuses a slug in use) and
    `update_program` (by the id their access was checked on).

    Side effects as `update_program`. Returns (program, created)."""
    spec = _validated(data)
    with unit_of_work():
        existing = db.session.scalar(select(Program).where(Program.slug == spec.slug).with_for_update())
        if existing is None:
            return _create(spec, actor=actor, organisers=[]), True
        return _save(existing, spec, actor=actor, created=False), False


def create_program(data: Any, *, actor: Actor, organisers: list[Organiser] | None = None) -> Program:
    """A new program from a program file, managed by `organisers` and by the organiser
    acting. A slug already in use is refused (ProgramImportError naming the slug field):
    creating never touches another program. Side effects: commits once (program,
    sessions, assignments, audit)."""
    managers = list(organisers or [])
    creator = db.session.get(Organiser, actor.organiser_id) if actor.organiser_id else None
    if creator is not None and creator not in managers:
        managers.append(creator)
    return _create(_validated(data), actor=actor, organisers=managers)


def update_program(program_id: int, data: Any, *, actor: Actor) -> Program:
    """Replace a program's fields and sessions with a program file (the console's editor;
    the slug may change, to one no other program uses).

    Validates everything first, so an invalid file changes nothing. Sessions are matched
    by title, then by start order: a matched session keeps its calendar UID and its
    SEQUENCE rises when its time or link changes; a session no longer in the file is
    cancelled, not deleted. Raising the capacity promotes people from the waitlist.
    Registrants are emailed about changed and cancelled sessions and a cancelled program.

    Side effects: commits once (program, sessions, audit, outbox rows), then enqueues
    the emails. Raises ProgramNotFound or ProgramImportError."""
    spec = _validated(data)
    with unit_of_work():
        program = db.session.scalar(select(Program).where(Program.id == program_id).with_for_update())
        if program is None:
            raise ProgramNotFound(str(program_id))
        if spec.slug != program.slug and db.session.scalar(select(Program.id).where(Program.slug == spec.slug)):
            raise ProgramImportError([_slug_taken(spec.slug)])
        return _save(program, spec, actor=actor, created=False)


def _validated(data: Any) -> ProgramSpec:
    """The program file's rules, and one of this installation: a session can be created
    in Zoom only when Zoom is connected."""
    spec = validate_program_data(data)
    if not zoom_is_configured():
        problems = [
            f"sessions[{index}].zoom_create: " + _("Zoom is not connected; type the session's Zoom link instead")
            for index, raw in enumerate(data.get("sessions") or [], start=1)
            if isinstance(raw, dict) and raw.get("zoom_create") is True and not raw.get("zoom_meeting_id")
        ]
        if problems:
            raise ProgramImportError(problems)
    return spec


def _slug_taken(slug: str) -> str:
    # Says only that the address is taken: never which program has it, nor whose it is.
    return "slug: " + _("%(value)s is used by another program; choose another web address", value=repr(slug))


def _create(spec: ProgramSpec, *, actor: Actor, organisers: list[Organiser]) -> Program:
    try:
        with unit_of_work():
            if db.session.scalar(select(Program.id).where(Program.slug == spec.slug)) is not None:
                raise ProgramImportError([_slug_taken(spec.slug)])
            program = Program(slug=spec.slug)
            program.organisers.extend(organisers)
            db.session.add(program)
            return _save(program, spec, actor=actor, created=True)
    except IntegrityError as exc:
        # Two people creating the same slug at once: the unique constraint decides.
        raise ProgramImportError([_slug_taken(spec.slug)]) from exc


def _save(program: Program, spec: ProgramSpec, *, actor: Actor, created: bool) -> Program:
    """Write `spec` onto `program` (new, or locked by the caller's `unit_of_work`) and
    its sessions; audit and email what changed."""
    program.slug = spec.slug
    was_cancelled = program.status == "cancelled"

    for field in (
        "title",
        "summary",
        "description",
        "organiser_name",
        "timezone",
        "registration_opens_at",
        "registration_deadline",
        "capacity",
        "waitlist_enabled",
        "approval_required",
        "attendance_threshold_percent",
        "certificates",
        "status",
        "reminder_minutes",
        "questions",
        "language",
        "translations",
    ):
        setattr(program, field, getattr(spec, field))

    now = utcnow()
    existing = sorted(program.sessions, key=lambda s: s.starts_at) if not created else []
    changed: list[tuple[ProgramSession, datetime]] = []
    matches = _match_sessions(existing, spec.sessions)
    saved: list[tuple[ProgramSession, bool]] = []
    for session, s in zip(matches, spec.sessions, strict=True):
        if session is None:
            session = ProgramSession()
            program.all_sessions.append(session)
        elif (session.starts_at, session.ends_at, session.join_url, session.passcode) != (
            s.starts_at,
            s.ends_at,
            s.join_url,
            s.passcode,
        ):
            session.ics_sequence += 1
            session.rescheduled_at = now
            changed.append((session, session.starts_at))
        elif session.title != s.title or (session.translations or {}) != s.translations:
            session.ics_sequence += 1  # calendars show the new title; nobody is emailed
        session.title = s.title
        session.translations = s.translations
        session.starts_at = s.starts_at
        session.ends_at = s.ends_at
        session.join_url = s.join_url
        session.passcode = s.passcode
        if session.zoom_created and session.zoom_meeting_id != s.zoom_meeting_id:
            session.zoom_created = False  # another ID now: not the object Rollcall made
        session.zoom_meeting_id = s.zoom_meeting_id
        session.zoom_type = s.zoom_type
        saved.append((session, s.zoom_create))
    dropped = [s for s in existing if s not in matches]
    for session in dropped:
        session.cancelled_at = now
        session.ics_sequence += 1

    db.session.flush()
    # Zoom hears of it from the worker after the commit; an unchanged session, nothing.
    for session, create in saved:
        zoom_objects.session_saved(session, create=create)
    for session in dropped:
        zoom_objects.session_cancelled(session)
    audit.record(actor, "program.imported" if created else "program.updated", program=program)
    if not created:
        if program.status == "cancelled" and not was_cancelled:
            audit.record(actor, "program.cancelled", program=program)
            notifications.program_cancelled(program)
        elif program.status != "cancelled":
            for session, previous_start in changed:
                notifications.session_updated(session, previous_start)
            for session in dropped:
                audit.record(actor, "session.cancelled", program=program, session_id=session.id)
                notifications.session_cancelled(session)
            promote_from_waitlist(program, actor=actor)
    return program


def set_program_status(program_id: int, status: str, *, actor: Actor) -> Program:
    """Publish, close, cancel, archive or return to draft. Only the status changes: the
    rest of the program is not rewritten. Cancelling emails everyone still registered;
    publishing fills any free seats from the waiting list. One `unit_of_work`. Raises
    ProgramNotFound, or ProgramImportError for a status that does not exist."""
    if status not in PROGRAM_STATUSES:
        raise ProgramImportError([not_one_of("status", PROGRAM_STATUSES)])
    with unit_of_work():
        program = db.session.scalar(select(Program).where(Program.id == program_id).with_for_update())
        if program is None:
            raise ProgramNotFound(str(program_id))
        previous = program.status
        if status == previous:
            return program
        program.status = status
        audit.record(actor, "program.status", program=program, previous=previous, status=status)
        if status == "cancelled":
            audit.record(actor, "program.cancelled", program=program)
            notifications.program_cancelled(program)
        elif status == "published":
            promote_from_waitlist(program, actor=actor)
    return program


def duplicate_program(program_id: int, *, slug: str, first_start: datetime, actor: Actor) -> Program:
    """Run it again: a draft copy with every time (deadline, opening, sessions) moved
    by the same amount so that its first session starts at `first_start`. Reminders
    and settings are copied; registrations are not. Raises ProgramImportError."""
    program = get_program(program_id)
    if program.first_start is None:
        raise ProgramImportError(["sessions: " + _("the program has no session to start from")])
    data = moved_file(program_file(program), first_start - program.first_start) | {"slug": slug, "status": "draft"}
    return create_program(data, actor=actor, organisers=list(program.organisers))


DEMO_PROGRAM = Path(__file__).resolve().parents[2] / "data" / "demo-program.json"


def seed_demo(*, actor: Actor, now: datetime | None = None) -> Program:
    """Create the demo program from `webapp/data/demo-program.json` (or move its dates
    forward once they have passed), with every time moved together so that its session
    starts at 14:00 in the program's zone a week from `now`: "Powering Belt and Road:
    Lithium-ion batteries", registration closing two days before. Commits."""
    now = now or utcnow()
    data = json.loads(DEMO_PROGRAM.read_text(encoding="utf-8"))
    existing = db.session.scalar(select(Program).where(Program.slug == data["slug"]))
    if existing is not None and existing.registration_deadline > now:
        return existing
    zone = ZoneInfo(data["timezone"])
    first = datetime.fromisoformat(min(s["starts_at"] for s in data["sessions"]))
    day = (now + timedelta(days=7)).astimezone(zone).date()
    target = datetime.combine(day, first.astimezone(zone).time(), tzinfo=zone)
    program, _ = import_program(moved_file(data, target - first), actor=actor)
    return program
