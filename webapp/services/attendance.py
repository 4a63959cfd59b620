"""Attendance: the one rule deciding whether a registrant attended a session, and
recording the minutes that rule reads.

Minutes come from Zoom's participants report, the webhook, an uploaded participant
report or an organiser (`models.Attendance`); whether those minutes count as attending is
decided here only, from the program's `attendance_threshold_percent`, so that changing
the threshold changes every reader's answer at once (nothing derived is stored).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, ScalarSelect, and_, case, cast, func, literal, or_, select

from webapp.extensions import db
from webapp.models import (
    ATTENDANCE_SOURCES,
    Attendance,
    Program,
    ProgramSession,
    Registration,
    ZoomRegistrant,
    utcnow,
)
from webapp.models.programs import DEFAULT_ATTENDANCE_THRESHOLD_PERCENT
from webapp.services.errors import ParticipantReportError
from webapp.services.text import normalize_email
from webapp.services.transactions import promise_task, unit_of_work
from webapp.services.zoom import ZoomError, ZoomRejected, ZoomRetryable, is_configured, zoom_client
from webapp.services.zoom.pacing import wait_after

MIN_THRESHOLD_PERCENT, MAX_THRESHOLD_PERCENT = 1, 100

# An uploaded report: Zoom's for a webinar of 1,000 people is about 200 KB. A request
# body is bounded first by MAX_CONTENT_LENGTH (1 MiB by default: the 413 page).
MAX_REPORT_BYTES = 1024 * 1024
MAX_REPORT_ROWS = 50_000
# More than a year in one session is not a duration, it is a broken file.
MAX_ROW_MINUTES = 60 * 24 * 366
# Zoom puts a meeting summary (ID, topic, times) above the participants' header in some
# reports; the header is looked for in this many first rows.
HEADER_SEARCH_ROWS = 20


def credited_seconds(minutes: int, session_length: timedelta) -> int:
    """What `minutes` in a session count toward its program: at most the session's
    scheduled length, so joining early or staying in a room left open makes no session
    count for more than it lasts."""
    return min(max(minutes, 0) * 60, max(int(session_length.total_seconds()), 0))


def attended_program(
    minutes_by_session: Mapping[int, int],
    session_lengths: Mapping[int, timedelta],
    threshold_percent: int = DEFAULT_ATTENDANCE_THRESHOLD_PERCENT,
) -> bool:
    """Whether a registrant attended a program whose sessions (cancelled ones left out)
    last `session_lengths`, having spent `minutes_by_session` in them: their credited
    time (`credited_seconds`, summed) reaches `threshold_percent` of the sessions' total
    length. Pure: no database, no clock.

    The threshold is of the whole program, as a training centre's "75% attendance" is:
    missing one session of five still leaves 80%, while one visit to a five-session
    course is not attending it. With one session it is that session's rule (`attended`).
    Compared in whole seconds with integers, so the edge is exact."""
    total = sum(max(int(length.total_seconds()), 0) for length in session_lengths.values())
    credited = sum(credited_seconds(minutes_by_session.get(key, 0), length) for key, length in session_lengths.items())
    return credited > 0 and credited * 100 >= threshold_percent * total


def attended(
    minutes: int, session_length: timedelta, threshold_percent: int = DEFAULT_ATTENDANCE_THRESHOLD_PERCENT
) -> bool:
    """Whether `minutes` in one session lasting `session_length` reach
    `threshold_percent` of it: `attended_program` of that session alone."""
    return attended_program({0: minutes}, {0: session_length}, threshold_percent)


def _held_sessions(program: Program) -> dict[int, int]:
    """The program's sessions that count (not cancelled): id -> length in seconds. Read
    here rather than through `program.sessions`: exports stream after the request's own
    objects are detached."""
    rows = db.session.execute(
        select(ProgramSession.id, ProgramSession.starts_at, ProgramSession.ends_at).where(
            ProgramSession.program_id == program.id, ProgramSession.cancelled_at.is_(None)
        )
    ).all()
    return {session_id: max(int((ends_at - starts_at).total_seconds()), 0) for session_id, starts_at, ends_at in rows}


def _credited_seconds_sql(sessions: dict[int, int]) -> ScalarSelect[int]:
    """SQL mirror of summing `credited_seconds` over a registration's `sessions`."""
    seconds = Attendance.minutes * 60
    cap = case(sessions, value=Attendance.session_id, else_=0)
    return (
        select(func.coalesce(func.sum(case((seconds > cap, cap), else_=seconds)), 0))
        .where(Attendance.registration_id == Registration.id, Attendance.session_id.in_(list(sessions)))
        .scalar_subquery()
    )


def attended_condition(program: Program) -> ColumnElement[bool]:
    """SQL for "this registration attended the program", the one meaning every reader
    (attendee list, its filter and sort, exports, message segments, certificates) uses:
    an organiser marked them attended (a manual mark, `Registration.attended_at`), or
    `attended_program` holds for their recorded minutes
    (`tests/unit/test_attendance_rule.py` proves the two equal)."""
    sessions = _held_sessions(program)
    total = sum(sessions.values())
    if not sessions or total <= 0:
        return Registration.attended_at.is_not(None)
    credited = _credited_seconds_sql(sessions)
    from_minutes = and_(credited > 0, credited * 100 >= program.attendance_threshold_percent * total)
    return or_(Registration.attended_at.is_not(None), from_minutes)


def minutes_attended(program: Program) -> ColumnElement[int]:
    """SQL: a registration's minutes in the program that count (`credited_seconds` over
    its sessions not cancelled, in whole minutes; 0 with none recorded). What the
    attendee list, exports and certificates show."""
    sessions = _held_sessions(program)
    if not sessions:
        return literal(0, Integer)
    return cast(_credited_seconds_sql(sessions) // 60, Integer)


@dataclass(frozen=True)
class SessionAttendance:
    """One session as an organiser reads a registrant's attendance: minutes recorded
    (None: nothing recorded), where they came from, and the minutes that count."""

    session: ProgramSession
    minutes: int | None
    source: str | None
    credited_minutes: int


@dataclass(frozen=True)
class AttendanceSummary:
    """A registrant's attendance of a program and how the rule reached it."""

    sessions: list[SessionAttendance]
    credited_minutes: int
    total_minutes: int  # of the sessions that count (not cancelled)
    needed_minutes: int  # the fewest credited minutes that attend, by the threshold
    threshold_percent: int
    attended: bool  # by minutes (`attended_program`); a manual mark is the registration's


def attendance_summary(registration: Registration) -> AttendanceSummary:
    """Per session, what was recorded for `registration` and what counts, with the
    program's verdict by `attended_program` (the detail page shows why someone did or
    did not attend). Reads only."""
    program = registration.program
    recorded = {
        row.session_id: row
        for row in db.session.scalars(select(Attendance).where(Attendance.registration_id == registration.id))
    }
    lengths = {s.id: s.ends_at - s.starts_at for s in program.sessions if s.cancelled_at is None}
    minutes = {key: row.minutes for key, row in recorded.items()}
    rows = [
        SessionAttendance(
            session=s,
            minutes=recorded[s.id].minutes if s.id in recorded else None,
            source=recorded[s.id].source if s.id in recorded else None,
            credited_minutes=credited_seconds(minutes.get(s.id, 0), lengths[s.id]) // 60 if s.id in lengths else 0,
        )
        for s in sorted(program.sessions, key=lambda s: s.starts_at)
    ]
    total_seconds = sum(max(int(length.total_seconds()), 0) for length in lengths.values())
    percent = program.attendance_threshold_percent
    credited = sum(credited_seconds(minutes.get(key, 0), length) for key, length in lengths.items())
    return AttendanceSummary(
        sessions=rows,
        credited_minutes=credited // 60,
        total_minutes=total_seconds // 60,
        needed_minutes=math.ceil(percent * total_seconds / 6000) if total_seconds else 0,
        threshold_percent=percent,
        attended=attended_program(minutes, lengths, percent),
    )


@dataclass(frozen=True)
class Participant:
    """One row of a participants report: who (Zoom's registrant id, else the address as
    registrations normalise it) and how many minutes that row was in the session."""

    minutes: int
    email: str = ""
    registrant_id: str = ""
    # Zoom's API gives seconds: summed before they become minutes, so that short stays
    # of a person who rejoined often are not each rounded away.
    seconds: int = 0


# --- reading Zoom's participant report (CSV) -----------------------------------------


def _decode(raw: bytes) -> str:
    """Zoom writes UTF-8 with a byte-order mark; a report re-saved by a spreadsheet may be
    UTF-16 (with its mark) or a Windows code page."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise ParticipantReportError("not_text") from None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")  # every byte is a letter: a wrong guess shows as no columns


def _header(row: list[str]) -> tuple[int, int, int | None] | None:
    """(email, duration, registrant id) columns if this row is the participants' header."""
    names = [cell.strip().casefold() for cell in row]
    email = next((i for i, n in enumerate(names) if "email" in n or "e-mail" in n), None)
    duration = next((i for i, n in enumerate(names) if n.startswith(("duration", "total duration"))), None)
    registrant = next((i for i, n in enumerate(names) if "registrant" in n and "id" in n), None)
    if email is None or duration is None:
        return None
    return email, duration, registrant


def _minutes(value: str, line: int) -> int:
    text = value.strip()
    try:
        number = float(text) if text else 0.0
    except ValueError:
        raise ParticipantReportError("bad_minutes", line) from None
    if not math.isfinite(number) or number < 0 or number > MAX_ROW_MINUTES:
        raise ParticipantReportError("bad_minutes", line)
    return round(number)


def parse_participant_report(raw: bytes) -> list[Participant]:
    """The rows of a participant report as Zoom exports it (columns such as "Name
    (original name)", "User email", "Join time", "Leave time", "Duration (minutes)"; a
    summary above them is skipped; comma, semicolon or tab separated). One Participant
    per row: a person who rejoined has several, summed when recorded. Rows without an
    address are kept out (nothing to match them by).

    Pure. Raises ParticipantReportError for anything that is not such a report."""
    if len(raw) > MAX_REPORT_BYTES:
        raise ParticipantReportError("too_large")
    text = _decode(raw)
    if "\x00" in text:
        raise ParticipantReportError("not_text")
    if not text.strip():
        raise ParticipantReportError("empty")
    first_lines = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS])
    delimiter = max(",;\t", key=first_lines.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns: tuple[int, int, int | None] | None = None
    participants: list[Participant] = []
    try:
        for row in reader:
            if columns is None:
                if reader.line_num > HEADER_SEARCH_ROWS:
                    break
                columns = _header(row)
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(participants) >= MAX_REPORT_ROWS:
                raise ParticipantReportError("too_many_rows")
            email_at, duration_at, registrant_at = columns
            email = normalize_email(row[email_at]) if email_at < len(row) else ""
            registrant = row[registrant_at].strip() if registrant_at is not None and registrant_at < len(row) else ""
            if "@" not in email and not registrant:
                continue
            minutes = _minutes(row[duration_at] if duration_at < len(row) else "", reader.line_num)
            participants.append(Participant(minutes=minutes, email=email[:254], registrant_id=registrant[:128]))
    except csv.Error:
        # A NUL byte, a field past csv's size limit, a quote never closed.
        raise ParticipantReportError("not_text", reader.line_num) from None
    if columns is None:
        raise ParticipantReportError("no_columns")
    return participants


# --- recording minutes ---------------------------------------------------------------


@dataclass(frozen=True)
class RecordResult:
    """What recording a report did: registrants whose minutes were written, and people
    in the report who matched no registration."""

    matched: int
    unmatched: int


def record_participants(session_id: int, participants: Iterable[Participant], source: str) -> RecordResult:
    """Match a session's participants to the program's registrations and write each
    one's total minutes (rejoins summed) as their Attendance for the session.

    Matched by Zoom's registrant id for this session (`ZoomRegistrant`), then by the
    address as registrations normalise it. Each matched registration's minutes are
    replaced, not added to, so recording the same report twice gives the same rows; a
    registration absent from the report keeps what it had. One transaction, under the
    session's row lock, so two reports for a session are written one after the other."""
    if source not in ATTENDANCE_SOURCES:
        raise ValueError(source)
    with unit_of_work():
        session = db.session.scalar(select(ProgramSession).where(ProgramSession.id == session_id).with_for_update())
        if session is None:
            raise LookupError(session_id)
        by_registrant: dict[str | None, int] = dict(
            db.session.execute(
                select(ZoomRegistrant.registrant_id, ZoomRegistrant.registration_id).where(
                    ZoomRegistrant.session_id == session_id, ZoomRegistrant.registrant_id.is_not(None)
                )
            ).all()
        )
        by_email: dict[str, int] = dict(
            db.session.execute(
                select(Registration.email_normalized, Registration.id).where(
                    Registration.program_id == session.program_id
                )
            ).all()
        )
        seconds: dict[int, int] = defaultdict(int)
        strangers: set[str] = set()
        for person in participants:
            registration_id = by_registrant.get(person.registrant_id) if person.registrant_id else None
            if registration_id is None and person.email:
                registration_id = by_email.get(person.email)
            if registration_id is None:
                strangers.add(person.registrant_id or person.email)
            else:
                seconds[registration_id] += person.seconds or person.minutes * 60
        # Capped so that a thousand rejoins in a hostile file cannot overflow the column.
        totals = {rid: min(total // 60, MAX_ROW_MINUTES) for rid, total in seconds.items()}
        existing = {
            row.registration_id: row
            for row in db.session.scalars(
                select(Attendance).where(
                    Attendance.session_id == session_id, Attendance.registration_id.in_(list(totals))
                )
            )
        }
        for registration_id, minutes in totals.items():
            row = existing.get(registration_id)
            if row is None:
                db.session.add(
                    Attendance(registration_id=registration_id, session_id=session_id, minutes=minutes, source=source)
                )
            elif (row.minutes, row.source) != (minutes, source):
                row.minutes, row.source = minutes, source
    return RecordResult(matched=len(totals), unmatched=len(strangers))


def upload_participant_report(session_id: int, raw: bytes) -> RecordResult:
    """An organiser's upload of Zoom's participant report CSV for one session: read it
    whole first (a broken file raises ParticipantReportError and writes nothing), then
    record it."""
    return record_participants(session_id, parse_participant_report(raw), "csv")


# --- Zoom's participants report, through the worker ----------------------------------

FETCH_TASK = "worker.tasks.zoom.fetch_attendance"


def zoom_participants(rows: Iterable[dict[str, Any]]) -> list[Participant]:
    """Rows of Zoom's participants report API as Participants: its ``registrant_id``,
    ``user_email`` and ``duration`` (seconds; one row per stay). Rows of unexpected
    shape are skipped, never trusted."""
    participants: list[Participant] = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        duration = row.get("duration")
        if not isinstance(duration, int | float) or isinstance(duration, bool) or not 0 <= duration < 10**8:
            continue
        email = row.get("user_email")
        registrant = row.get("registrant_id")
        participants.append(
            Participant(
                minutes=0,
                seconds=int(duration),
                email=normalize_email(email)[:254] if isinstance(email, str) else "",
                registrant_id=registrant[:128] if isinstance(registrant, str) else "",
            )
        )
    return participants


def fetch_from_zoom(session_id: int) -> RecordResult:
    """Worker: ask Zoom for a past session's participants report (every page) and record
    it (`record_participants`, source zoom_report): running it twice gives the same rows.
    Zoom is called outside any transaction. Commits the session's fetch state: when it
    was fetched, or the attempt, Zoom's error and when beat's sweep tries again.

    Raises ZoomRetryable while Zoom asks to wait, fails, or has no report yet (Zoom
    answers 400/404 for a few minutes after the end: retried like a failure), which beat's
    sweep retries when `attendance_next_at` comes; ZoomRejected when Zoom is not
    configured or refuses otherwise (tried again an hour later)."""
    session = db.session.get(ProgramSession, session_id)
    if session is None or not session.zoom_meeting_id:
        return RecordResult(matched=0, unmatched=0)
    zoom_type, object_id = session.zoom_type, session.zoom_meeting_id
    db.session.rollback()  # hold no transaction open while Zoom answers
    try:
        with zoom_client() as client:
            rows = client.participants_report(zoom_type, object_id)  # type: ignore[arg-type]
    except ZoomRetryable as exc:
        _fetch_failed(session_id, exc, exc)
        raise
    except ZoomRejected as exc:
        # A missing scope is a 400 too (codes 4700/4711): the organiser must act.
        if exc.status not in NOT_READY_STATUSES or "scope" in str(exc).lower():
            _fetch_failed(session_id, exc, None)
            raise
        not_ready = ZoomRetryable(f"Zoom has no report yet ({exc})", status=exc.status)
        _fetch_failed(session_id, not_ready, not_ready)
        raise not_ready from exc
    result = record_participants(session_id, zoom_participants(rows), "zoom_report")
    with unit_of_work():
        fetched = db.session.get(ProgramSession, session_id)
        if fetched is not None:
            fetched.attendance_fetched_at = utcnow()
            fetched.attendance_attempts = 0
            fetched.attendance_error = None
            fetched.attendance_next_at = None
    return result


# Zoom answers a report asked for too soon after the end with 404 ("does not exist")
# or 400: the report is made a few minutes later.
NOT_READY_STATUSES = (400, 404)
# Beat's sweep asks for the report of a Zoom session never tried this long after its end
# (the ended event lost), and of one whose tries failed when its backoff says; for
# SWEEP_WINDOW after the end.
SWEEP_AFTER_END = timedelta(minutes=30)
SWEEP_WINDOW = timedelta(days=7)
# A fetch the sweep promised is not promised again for this long (its task is queued).
SWEEP_LEASE = timedelta(minutes=10)


def _fetch_failed(session_id: int, exc: ZoomError, retryable: ZoomRetryable | None) -> None:
    """Record a failed fetch: one more attempt, Zoom's words, and when the sweep may try
    again (`wait_after`, Zoom's own rule for every retry; an hour after a refusal)."""
    with unit_of_work():
        session = db.session.get(ProgramSession, session_id)
        if session is None:
            return
        session.attendance_attempts += 1
        session.attendance_error = str(exc)[:2000]
        wait = wait_after(retryable, session.attendance_attempts) if retryable is not None else timedelta(hours=1)
        session.attendance_next_at = utcnow() + wait


def sweep_attendance() -> int:
    """Beat's sweep (run by the worker), the one retry path of attendance fetches: each
    Zoom session that ended within `SWEEP_WINDOW`, whose report was never read and whose
    next try is due (never tried: `SWEEP_AFTER_END` after its end; a failed try: when its
    backoff says), gets a fetch task after this commits (`SWEEP_LEASE` keeps it from being
    promised twice while queued). Returns how many. Nothing without Zoom."""
    if not is_configured():
        return 0
    now = utcnow()
    with unit_of_work():
        sessions = list(
            db.session.scalars(
                select(ProgramSession)
                .where(
                    ProgramSession.zoom_meeting_id.is_not(None),
                    ProgramSession.cancelled_at.is_(None),
                    ProgramSession.attendance_fetched_at.is_(None),
                    # Never tried: a while after the end (the ended event may yet come).
                    # Tried and failed: when its backoff says, the sweep being the one
                    # retry path.
                    or_(
                        ProgramSession.ends_at <= now - SWEEP_AFTER_END,
                        and_(
                            ProgramSession.attendance_attempts > 0,
                            # Zoom said it ended (maybe before its time), or it is past its end.
                            or_(ProgramSession.zoom_ended_at.is_not(None), ProgramSession.ends_at <= now),
                        ),
                    ),
                    ProgramSession.ends_at >= now - SWEEP_WINDOW,
                    or_(ProgramSession.attendance_next_at.is_(None), ProgramSession.attendance_next_at <= now),
                )
                .order_by(ProgramSession.ends_at)
                .limit(200)
                .with_for_update(skip_locked=True)
            )
        )
        for session in sessions:
            session.attendance_next_at = now + SWEEP_LEASE
            promise_task(FETCH_TASK, [session.id])
    return len(sessions)


@dataclass(frozen=True)
class FetchState:
    """What the organiser reads about a Zoom session's attendance: "fetched" (at
    `when`), "waiting" (the session has not ended, or Zoom's report is still to be
    read: next try `when`), "error" (Zoom's `error`; tried again at `when`, or no more
    (`when` None) once the sweep's window is over), or "" (no Zoom session)."""

    kind: str
    when: datetime | None = None
    error: str = ""


def fetch_state(session: ProgramSession, now: datetime) -> FetchState:
    """The attendance fetch state of `session` at `now`. Pure."""
    if not session.zoom_meeting_id:
        return FetchState("")
    if session.attendance_fetched_at is not None:
        return FetchState("fetched", session.attendance_fetched_at)
    if session.attendance_error:
        retry = session.attendance_next_at if session.ends_at >= now - SWEEP_WINDOW else None
        return FetchState("error", retry, session.attendance_error)
    return FetchState("waiting", session.attendance_next_at)


def sessions_of_zoom_object(zoom_type: str, object_id: str) -> list[int]:
    """The sessions (not cancelled) naming this Zoom webinar or meeting."""
    return list(
        db.session.scalars(
            select(ProgramSession.id).where(
                ProgramSession.zoom_type == zoom_type,
                ProgramSession.zoom_meeting_id == object_id,
                ProgramSession.cancelled_at.is_(None),
            )
        )
    )


def request_fetch(program: Program) -> int:
    """The console's "Fetch attendance from Zoom": hand each of the program's Zoom
    sessions that has started to the worker, after this commits. Returns how many."""
    with unit_of_work():
        now = utcnow()
        sessions = [s.id for s in program.sessions if s.zoom_meeting_id and s.starts_at <= now]
        for session_id in sessions:
            promise_task(FETCH_TASK, [session_id])
    return len(sessions)
