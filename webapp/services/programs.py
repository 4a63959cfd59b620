"""Programs: importing them from JSON, the demo, and the queries public pages need.

State changes here commit; nothing here sends mail directly (promotions from the
waitlist go through `registrations`, which writes outbox rows).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Row, bindparam, select

from webapp.extensions import db
from webapp.models import DEFAULT_REMINDER_MINUTES, PROGRAM_STATUSES, Program, ProgramSession, utcnow
from webapp.services import audit
from webapp.services.audit import Actor
from webapp.services.errors import ProgramImportError, ProgramNotFound
from webapp.services.outbox import dispatch
from webapp.services.text import has_control_characters, multi_line, single_line, slugify
from webapp.services.times import is_valid_timezone, parse_iso_datetime

# Registration is "closing soon" within this long of the deadline.
CLOSING_SOON = timedelta(hours=48)

# Bounds that keep every value inside its column and every date arithmetic in range.
MAX_CAPACITY = 1_000_000
FIRST_YEAR, LAST_YEAR = 2000, 2999
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_OFFSET = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_KNOWN_FIELDS = {
    "slug",
    "title",
    "summary",
    "description",
    "organiser",
    "timezone",
    "registration_opens_at",
    "registration_deadline",
    "capacity",
    "waitlist",
    "approval_required",
    "status",
    "reminders",
    "sessions",
    "questions",
}
_SESSION_FIELDS = {"title", "starts_at", "ends_at", "join_url", "passcode", "zoom_meeting_id"}


# --- import -------------------------------------------------------------------------


@dataclass
class SessionSpec:
    title: str
    starts_at: datetime
    ends_at: datetime
    join_url: str
    passcode: str
    zoom_meeting_id: str | None


@dataclass
class ProgramSpec:
    """A validated program file."""

    slug: str
    title: str
    summary: str
    description: str
    organiser_name: str
    timezone: str
    registration_opens_at: datetime | None
    registration_deadline: datetime
    capacity: int | None
    waitlist_enabled: bool
    approval_required: bool
    status: str
    reminder_minutes: list[int]
    sessions: list[SessionSpec]
    questions: list[dict[str, Any]]


def parse_reminder_offset(value: Any) -> int:
    """ "24h" → 1440, "30m" → 30, "2d" → 2880 (minutes before the session)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _OFFSET.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) <= 0:
        raise ValueError(value)
    return int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[match.group(2)]


QUESTION_TYPES = ("short_text", "long_text", "single_choice", "multiple_choice", "checkbox", "country")
_CHOICE_TYPES = ("single_choice", "multiple_choice")
_KEY = re.compile(r"^[a-z0-9_]{1,40}$")


def _validate_questions(raw: Any, problems: list[str]) -> list[dict[str, Any]]:
    """Extra form questions: label, type, required, options (for choices); the key
    names the answer in exports and is derived from the label if not given."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append("questions: must be a list")
        return []
    if len(raw) > 30:
        problems.append("questions: at most 30 questions")
    questions: list[dict[str, Any]] = []
    keys: set[str] = set()
    for index, item in enumerate(raw[:30], start=1):
        label_key = f"questions[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{label_key}: must be an object")
            continue
        for key in sorted(set(item) - {"key", "label", "type", "required", "options"}):
            problems.append(f"{label_key}.{key}: unknown field")
        label = single_line(item.get("label") if isinstance(item.get("label"), str) else "", 300)
        if not label:
            problems.append(f"{label_key}.label: is required")
        kind = item.get("type", "short_text")
        if kind not in QUESTION_TYPES:
            problems.append(f"{label_key}.type: must be one of {', '.join(QUESTION_TYPES)}")
        key = item.get("key") or slugify(label).replace("-", "_")[:40] or f"q{index}"
        if not isinstance(key, str) or not _KEY.match(key):
            problems.append(f"{label_key}.key: {key!r} may contain only lower-case letters, digits and _")
        elif key in keys or key in _ANSWER_RESERVED:
            problems.append(f"{label_key}.key: {key!r} is used twice")
        keys.add(str(key))
        options = item.get("options") or []
        if not isinstance(options, list) or not all(isinstance(o, str) and o.strip() for o in options):
            problems.append(f"{label_key}.options: must be a list of non-empty texts")
            options = []
        options = [single_line(o, 200) for o in options]
        if kind in _CHOICE_TYPES and len(options) < 2:
            problems.append(f"{label_key}.options: a choice needs at least two options")
        required = item.get("required", False)
        if not isinstance(required, bool):
            problems.append(f"{label_key}.required: must be true or false")
            required = False
        questions.append(
            {
                "key": key,
                "label": label,
                "type": kind,
                "required": required,
                "options": options if kind in _CHOICE_TYPES else [],
            }
        )
    return questions


# Answer keys that would collide with the form's own fields.
_ANSWER_RESERVED = {"full_name", "email", "country", "organisation", "job_title", "language", "timezone", "consent"}


def validate_program_data(data: Any) -> ProgramSpec:
    """Check a program file and return it typed. Raises ProgramImportError listing every
    problem found (not just the first), each naming the field it is about."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ProgramImportError(["the file must contain one JSON object describing a program"])

    for key in sorted(set(data) - _KNOWN_FIELDS):
        problems.append(f"{key}: unknown field")

    def text(key: str, max_length: int, required: bool = False, one_line: bool = True) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                problems.append(f"{key}: is required")
            return ""
        if not isinstance(value, str):
            problems.append(f"{key}: must be text")
            return ""
        cleaned = single_line(value) if one_line else multi_line(value)
        if len(cleaned) > max_length:
            problems.append(f"{key}: must be at most {max_length} characters (it has {len(cleaned)})")
        return cleaned

    def when(key: str, where: dict[str, Any], label: str, required: bool = True) -> datetime | None:
        value = where.get(key)
        if value is None or value == "":
            if required:
                problems.append(f"{label}: is required")
            return None
        if not isinstance(value, str):
            problems.append(f"{label}: must be an ISO 8601 date and time, e.g. 2026-09-28T14:00:00+05:00")
            return None
        try:
            parsed = parse_iso_datetime(value)
        except OverflowError:  # e.g. 9999-12-31T23:59-05:00 is past year 9999 in UTC
            parsed = None
        except ValueError as exc:
            if str(exc) == "no UTC offset":
                problems.append(f"{label}: {value!r} has no UTC offset; write e.g. {value}+05:00")
            else:
                problems.append(f"{label}: {value!r} is not an ISO 8601 date and time")
            return None
        if parsed is None or not FIRST_YEAR <= parsed.year <= LAST_YEAR:
            # Far dates overflow when moved (a copy, a time zone, a reminder offset).
            problems.append(f"{label}: must be in the years {FIRST_YEAR} to {LAST_YEAR}")
            return None
        return parsed

    def flag(key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            problems.append(f"{key}: must be true or false")
            return default
        return value

    slug = text("slug", 120, required=True)
    if slug and not _SLUG.match(slug):
        problems.append(f"slug: {slug!r} may contain only lower-case letters, digits and single hyphens")
    title = text("title", 200, required=True)
    summary = text("summary", 500)
    description = text("description", 20000, one_line=False)
    organiser = text("organiser", 200)

    timezone = data.get("timezone")
    if not timezone:
        problems.append("timezone: is required (an IANA name such as Asia/Karachi)")
        timezone = "UTC"
    elif not isinstance(timezone, str) or not is_valid_timezone(timezone):
        problems.append(f"timezone: {timezone!r} is not a known IANA time zone (e.g. Asia/Karachi, Europe/Paris)")
        timezone = "UTC"

    opens_at = when("registration_opens_at", data, "registration_opens_at", required=False)
    deadline = when("registration_deadline", data, "registration_deadline")

    capacity = data.get("capacity")
    if capacity is not None and (
        not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= MAX_CAPACITY
    ):
        problems.append(
            f"capacity: must be a whole number of at least 1 and at most {MAX_CAPACITY:,}, or null for unlimited seats"
        )
        capacity = None

    waitlist = flag("waitlist", False)
    approval = flag("approval_required", False)

    status = data.get("status", "draft")
    if status not in PROGRAM_STATUSES:
        problems.append(f"status: must be one of {', '.join(PROGRAM_STATUSES)}")
        status = "draft"

    reminders_raw = data.get("reminders", None)
    reminder_minutes = list(DEFAULT_REMINDER_MINUTES)
    if reminders_raw is not None:
        if not isinstance(reminders_raw, list):
            problems.append('reminders: must be a list such as ["24h", "1h"]')
        else:
            parsed: list[int] = []
            for item in reminders_raw:
                try:
                    parsed.append(parse_reminder_offset(item))
                except ValueError:
                    problems.append(f'reminders: {item!r} is not an offset such as "24h", "90m" or "2d"')
            reminder_minutes = sorted(set(parsed), reverse=True)

    sessions: list[SessionSpec] = []
    raw_sessions = data.get("sessions")
    if not isinstance(raw_sessions, list) or not raw_sessions:
        problems.append("sessions: at least one session is required")
        raw_sessions = []
    for index, raw in enumerate(raw_sessions, start=1):
        label = f"sessions[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{label}: must be an object")
            continue
        for key in sorted(set(raw) - _SESSION_FIELDS):
            problems.append(f"{label}.{key}: unknown field")
        s_title = raw.get("title")
        if not isinstance(s_title, str) or not single_line(s_title):
            problems.append(f"{label}.title: is required")
            s_title = ""
        elif len(single_line(s_title)) > 200:
            problems.append(f"{label}.title: must be at most 200 characters")
        starts = when("starts_at", raw, f"{label}.starts_at")
        ends = when("ends_at", raw, f"{label}.ends_at")
        if starts and ends and ends <= starts:
            problems.append(f"{label}.ends_at: must be after starts_at")
        join_url = raw.get("join_url") or ""
        if not isinstance(join_url, str):
            problems.append(f"{label}.join_url: must be text")
            join_url = ""
        elif join_url:
            if has_control_characters(join_url) or any(c.isspace() for c in join_url):
                # urlsplit would quietly drop a CR/LF; stored, it breaks the .ics and the email.
                problems.append(f"{label}.join_url: must not contain spaces, line breaks or control characters")
            else:
                parts = urlsplit(join_url)
                if (parts.scheme != "https" and parts.scheme != "http") or not parts.netloc or len(join_url) > 500:
                    problems.append(f"{label}.join_url: {join_url!r} is not an http(s) link")
        passcode = raw.get("passcode") or ""
        if not isinstance(passcode, str) or len(passcode) > 64:
            problems.append(f"{label}.passcode: must be text of at most 64 characters")
            passcode = ""
        zoom_id = raw.get("zoom_meeting_id")
        if zoom_id is not None and (not isinstance(zoom_id, str | int) or len(str(zoom_id)) > 64):
            problems.append(f"{label}.zoom_meeting_id: must be text of at most 64 characters")
            zoom_id = None
        if not join_url and not zoom_id:
            problems.append(f"{label}.join_url: is required (the link participants use to join)")
        if starts and ends:
            sessions.append(
                SessionSpec(
                    title=single_line(s_title, 200),
                    starts_at=starts,
                    ends_at=ends,
                    join_url=join_url,
                    passcode=single_line(passcode),
                    zoom_meeting_id=single_line(str(zoom_id)) if zoom_id is not None else None,
                )
            )

    questions = _validate_questions(data.get("questions"), problems)

    if deadline and sessions:
        first = min(s.starts_at for s in sessions)
        if deadline > first:
            problems.append("registration_deadline: must not be after the first session starts")
    if opens_at and deadline and opens_at >= deadline:
        problems.append("registration_opens_at: must be before registration_deadline")

    if problems:
        raise ProgramImportError(problems)
    assert deadline is not None
    return ProgramSpec(
        slug=slug,
        title=title,
        summary=summary,
        description=description,
        organiser_name=organiser,
        timezone=timezone,
        registration_opens_at=opens_at,
        registration_deadline=deadline,
        capacity=capacity,
        waitlist_enabled=waitlist,
        approval_required=approval,
        status=status,
        reminder_minutes=reminder_minutes,
        sessions=sorted(sessions, key=lambda s: s.starts_at),
        questions=questions,
    )


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


def import_program(data: Any, *, actor: Actor, program_id: int | None = None) -> tuple[Program, bool]:
    """Create or update (by slug, or by `program_id` when the console edits one, which
    may also change its slug) a program and its sessions from a parsed program file.

    Validates everything first, so an invalid file changes nothing. Sessions are matched
    by title, then by start order: a matched session keeps its calendar UID and its
    SEQUENCE rises when its time or link changes; a session no longer in the file is
    cancelled, not deleted. Raising the capacity promotes people from the waitlist.
    Registrants are emailed about changed and cancelled sessions and a cancelled program.

    Side effects: commits once (program, sessions, audit, outbox rows), then enqueues
    the emails. Returns (program, created).
    """
    from webapp.services import notifications  # these two use programs' queries
    from webapp.services.registrations import promote_from_waitlist

    spec = validate_program_data(data)
    same_slug = db.session.scalar(select(Program).where(Program.slug == spec.slug).with_for_update())
    if program_id is None:
        program = same_slug
    else:
        program = db.session.scalar(select(Program).where(Program.id == program_id).with_for_update())
        if program is None:
            raise ProgramNotFound(str(program_id))
        if same_slug is not None and same_slug.id != program_id:
            raise ProgramImportError([f"slug: {spec.slug!r} is used by another program"])
    created = program is None
    if program is None:
        program = Program(slug=spec.slug)
        db.session.add(program)
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
        "status",
        "reminder_minutes",
        "questions",
    ):
        setattr(program, field, getattr(spec, field))

    now = utcnow()
    existing = sorted(program.sessions, key=lambda s: s.starts_at) if not created else []
    changed: list[tuple[ProgramSession, datetime]] = []
    matches = _match_sessions(existing, spec.sessions)
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
        elif session.title != s.title:
            session.ics_sequence += 1  # calendars show the new title; nobody is emailed
        session.title = s.title
        session.starts_at = s.starts_at
        session.ends_at = s.ends_at
        session.join_url = s.join_url
        session.passcode = s.passcode
        session.zoom_meeting_id = s.zoom_meeting_id
    dropped = [s for s in existing if s not in matches]
    for session in dropped:
        session.cancelled_at = now
        session.ics_sequence += 1

    db.session.flush()
    audit.record(actor, "program.imported" if created else "program.updated", program=program)
    email_ids: list[int] = []
    if not created:
        if program.status == "cancelled" and not was_cancelled:
            audit.record(actor, "program.cancelled", program=program)
            email_ids += notifications.program_cancelled(program)
        elif program.status != "cancelled":
            for session, previous_start in changed:
                email_ids += notifications.session_updated(session, previous_start)
            for session in dropped:
                audit.record(actor, "session.cancelled", program=program, session_id=session.id)
                email_ids += notifications.session_cancelled(session)
            email_ids += promote_from_waitlist(program, actor=actor)
    db.session.commit()
    dispatch(email_ids)
    return program, created


def _offset_text(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def program_file(program: Program) -> dict[str, Any]:
    """The program as a program file (the import format): what the console edits and
    what duplicating copies. Times carry the program's UTC offset."""
    zone = program.zone

    def iso(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat() if value else None

    return {
        "slug": program.slug,
        "title": program.title,
        "summary": program.summary,
        "description": program.description,
        "organiser": program.organiser_name,
        "timezone": program.timezone,
        "registration_opens_at": iso(program.registration_opens_at),
        "registration_deadline": iso(program.registration_deadline),
        "capacity": program.capacity,
        "waitlist": program.waitlist_enabled,
        "approval_required": program.approval_required,
        "status": program.status,
        "reminders": [_offset_text(m) for m in program.reminder_minutes or []],
        "questions": [dict(q) for q in program.questions or []],
        "sessions": [
            {
                "title": s.title,
                "starts_at": iso(s.starts_at),
                "ends_at": iso(s.ends_at),
                "join_url": s.join_url,
                "passcode": s.passcode,
            }
            for s in program.sessions
        ],
    }


def set_program_status(program_id: int, status: str, *, actor: Actor) -> Program:
    """Publish, close, cancel or archive. Cancelling emails everyone still registered.
    Side effects as `import_program`."""
    program = get_program(program_id)
    data = program_file(program) | {"status": status}
    updated, _ = import_program(data, actor=actor, program_id=program_id)
    return updated


def duplicate_program(program_id: int, *, slug: str, first_start: datetime, actor: Actor) -> Program:
    """Run it again: a draft copy with every time (deadline, opening, sessions) moved
    by the same amount so that its first session starts at `first_start`. Reminders
    and settings are copied; registrations are not. Raises ProgramImportError."""
    program = get_program(program_id)
    if program.first_start is None:
        raise ProgramImportError(["sessions: the program has no session to start from"])
    shift = first_start - program.first_start
    data = program_file(program)

    def moved(value: str | None) -> str | None:
        return (datetime.fromisoformat(value) + shift).isoformat() if value else None

    data |= {
        "slug": slug,
        "status": "draft",
        "registration_opens_at": moved(data["registration_opens_at"]),
        "registration_deadline": moved(data["registration_deadline"]),
        "sessions": [
            x | {"starts_at": moved(x["starts_at"]), "ends_at": moved(x["ends_at"])} for x in data["sessions"]
        ],
    }
    if db.session.scalar(select(Program.id).where(Program.slug == slug)) is not None:
        raise ProgramImportError([f"slug: {slug!r} is used by another program"])
    copy, _ = import_program(data, actor=actor)
    copy.organisers.extend(o for o in program.organisers if o not in copy.organisers)
    db.session.commit()
    return copy


def seed_demo(*, actor: Actor, now: datetime | None = None) -> Program:
    """Create the demo program (or move its dates forward once they have passed).

    "Powering Belt and Road: Lithium-ion batteries": a two-hour webinar a week from now,
    registration closing two days before it, 300 seats, waitlist on. Commits.
    """
    now = now or utcnow()
    zone = ZoneInfo("Asia/Karachi")
    local_day = (now + timedelta(days=7)).astimezone(zone).date()
    starts = datetime(local_day.year, local_day.month, local_day.day, 14, 0, tzinfo=zone)
    ends = starts + timedelta(hours=2)
    deadline = datetime.combine(local_day - timedelta(days=2), datetime.max.time(), tzinfo=zone).replace(
        second=0, microsecond=0
    )
    slug = "lithium-ion-batteries-demo"
    existing = db.session.scalar(select(Program).where(Program.slug == slug))
    if existing is not None and existing.registration_deadline > now:
        return existing
    data = {
        "slug": slug,
        "title": "Powering Belt and Road: Lithium-ion batteries",
        "summary": (
            "A free online training for entrepreneurs who want to build lithium-ion battery "
            "manufacturing in their region."
        ),
        "description": (
            "## Who it is for\n"
            "Entrepreneurs, engineers and officials from ECO member states and Belt and Road "
            "countries who are planning battery manufacturing for energy storage or electric mobility.\n\n"
            "## What you will learn\n"
            "- How a lithium-ion cell is made, from electrode to pack\n"
            "- What storage does for the grid: frequency regulation, peak shaving, smoothing renewables\n"
            "- Lessons from the world's largest battery market\n"
            "- Policies and programmes that helped, and the barriers that remain\n\n"
            "Registered participants receive the Zoom webinar link by email."
        ),
        "organiser": "BTBU-ECOSF Joint Training Center",
        "timezone": "Asia/Karachi",
        "registration_deadline": deadline.isoformat(),
        "capacity": 300,
        "waitlist": True,
        "approval_required": False,
        "status": "published",
        "reminders": ["24h", "1h"],
        "sessions": [
            {
                "title": "Powering Belt and Road: Lithium-ion batteries (live webinar)",
                "starts_at": starts.isoformat(),
                "ends_at": ends.isoformat(),
                "join_url": "https://zoom.us/j/81234567890",
                "passcode": "liion6",
            }
        ],
    }
    program, _ = import_program(data, actor=actor)
    return program


# --- queries --------------------------------------------------------------------------


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


def count_confirmed(program_id: int) -> int:
    """Seats taken, read fresh from the database after flushing pending changes:
    triggers keep the counter, so a `Program` loaded earlier in the transaction may
    hold an older value."""
    return db.session.scalar(_CONFIRMED_COUNT, {"program_id": program_id}) or 0


_CONFIRMED_COUNT = select(Program.confirmed_count).where(Program.id == bindparam("program_id"))


def availability(program: Program, now: datetime | None = None) -> Availability:
    now = now or utcnow()
    confirmed = count_confirmed(program.id)
    seats_left = None if program.capacity is None else max(program.capacity - confirmed, 0)
    time_left = program.registration_deadline - now if now < program.registration_deadline else None
    if program.status == "cancelled":
        state = "cancelled"
    elif program.status != "published" or now >= program.registration_deadline:
        state = "closed"
    elif program.registration_opens_at and now < program.registration_opens_at:
        state = "not_yet_open"
    elif seats_left == 0:
        state = "waitlist" if program.waitlist_enabled else "full"
    elif time_left is not None and time_left <= CLOSING_SOON:
        state = "closing_soon"
    else:
        state = "open"
    return Availability(
        state=state,
        confirmed=confirmed,
        seats_left=seats_left,
        deadline=program.registration_deadline,
        opens_at=program.registration_opens_at,
        time_left=time_left,
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


# What a submitted registration form needs of its program; the rules themselves are
# checked again under the program lock (`registrations.register_participant`).
_FORM_PROGRAM_BY_SLUG = select(
    Program.__table__.c.id,
    Program.__table__.c.slug,
    Program.__table__.c.status,
    Program.__table__.c.timezone,
    Program.__table__.c.questions,
).where(Program.__table__.c.slug == bindparam("slug"))


def get_form_program(slug: str) -> Row[Any]:
    """`get_public_program` for a submitted form: id, slug, status, timezone and
    questions only, as one light row rather than a loaded `Program`.

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
