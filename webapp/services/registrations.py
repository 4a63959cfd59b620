"""Registrations: the rules people rely on (DESIGN.md, Rules 1-6).

Every state change here runs in one transaction that holds the program's row lock
(PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite: every transaction is ``BEGIN
IMMEDIATE``, see `webapp.db_setup`), so capacity, the waitlist order and "one person, one
registration" hold under any concurrency. Each writes its outbox rows in that same
transaction and hands them to the broker only after the commit.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Boolean, Row, TextClause, bindparam, select, text
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import AuditEntry, Email, Program, Registration, utcnow
from webapp.models.sql import compile_for_driver, insert_skipping_conflicts, run_alone
from webapp.services import audit
from webapp.services.audit import Actor
from webapp.services.errors import (
    ProgramFull,
    ProgramNotFound,
    RegistrationClosed,
    RegistrationExists,
    RegistrationNotOpen,
)
from webapp.services.outbox import dispatch, new_message_id, queue_email
from webapp.services.programs import count_confirmed
from webapp.services.text import normalize_email, single_line

# At most one "you are already registered" email per registration per this long, so
# the form cannot be used to flood somebody's inbox.
ALREADY_REGISTERED_EMAIL_INTERVAL = timedelta(minutes=10)
ACTIVE_STATUSES = ("pending", "confirmed", "waitlisted")
# The email a registration gets when it reaches each status.
_EMAIL_FOR_STATUS = {"confirmed": "confirmation", "waitlisted": "waitlisted", "pending": "pending"}
_TOKEN_SELECTOR_LENGTH = 16


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
    must not show that difference to the person (no enumeration)."""

    registration_id: int
    status: str
    created: bool


def new_token() -> str:
    """256 bits from `secrets`, URL-safe; the first characters double as the selector."""
    return secrets.token_urlsafe(32)


def find_by_token(token: str) -> Registration | None:
    """The registration a self-service token belongs to, or None.

    The selector (a prefix) finds the row by index; the full token is then compared
    with `hmac.compare_digest`, so response time does not depend on how much of a
    guessed token is right.
    """
    if not isinstance(token, str) or len(token) < 32 or len(token) > 64:
        return None
    registration = db.session.scalar(
        select(Registration).where(Registration.token_selector == token[:_TOKEN_SELECTOR_LENGTH])
    )
    if registration is None or not hmac.compare_digest(registration.token.encode(), token.encode()):
        return None
    return registration


def _use_row_lock() -> bool:
    """PostgreSQL needs the program's row lock; SQLite transactions are exclusive
    already. Tests turn it off (REGISTRATION_CAPACITY_LOCK) to show it is what works."""
    return bool(current_app.config.get("REGISTRATION_CAPACITY_LOCK", True)) and (
        db.session.get_bind().dialect.name != "sqlite"
    )


def _lock_program(program_id: int) -> Program:
    """Load the program holding its row lock until commit: the guard that serialises
    every change to its seats. (SQLite transactions are already exclusive.)"""
    stmt = select(Program).where(Program.id == program_id).execution_options(populate_existing=True)
    if _use_row_lock():
        stmt = stmt.with_for_update()
    program = db.session.scalar(stmt)
    if program is None:
        raise ProgramNotFound(str(program_id))
    return program


# --- the public registration path --------------------------------------------------
#
# Registration is the one write every participant makes, all at once when a program is
# announced, so its statements are built once, here, and run with parameters (their
# compiled form is cached), on tables rather than ORM objects. `bench/rush.py` measures it.

_programs = Program.__table__
_registrations = Registration.__table__

# The program's rules and its seats taken. With FOR UPDATE, PostgreSQL waits for the
# program's row lock and then returns the row's newest version, so `confirmed_count`
# (kept by triggers, migration 0005) includes every registration committed before ours.
_SEAT_RULES = select(
    _programs.c.id,
    _programs.c.slug,
    _programs.c.status,
    _programs.c.timezone,
    _programs.c.registration_opens_at,
    _programs.c.registration_deadline,
    _programs.c.capacity,
    _programs.c.confirmed_count,
    _programs.c.waitlist_enabled,
    _programs.c.approval_required,
).where(_programs.c.id == bindparam("program_id"))
_SEAT_RULES_LOCKED = _SEAT_RULES.with_for_update()

# A new registration, or nothing if this address is registered already: the unique
# constraint answers "is this person here?" (Rule 3) in the same statement that writes,
# through its own index, whatever the planner thinks of the table's statistics.
_REGISTRATION_COLUMNS = [
    "program_id",
    "email",
    "email_normalized",
    "full_name",
    "country",
    "organisation",
    "job_title",
    "language",
    "timezone",
    "answers",
    "status",
    "token",
    "token_selector",
    "revision",
    "consent_at",
    "created_at",
    "updated_at",
    "status_changed_at",
    "confirmed_at",
    "waitlisted_at",
]
_INSERT_REGISTRATION = insert_skipping_conflicts(
    _registrations, _REGISTRATION_COLUMNS, conflict=("program_id", "email_normalized")
)


# Rules 1, 2 and 4 for a newcomer, as SQL over the program row (`program`) and the time
# (`clock.now`), for the one-statement path below. It decides exactly what `_check_open`
# and `_status_for_new` decide; `test_registrations` compares the two on every
# combination of state, time, seats, waitlist and approval.
NEWCOMER_DECISION_SQL = """
    CASE
        WHEN program.status <> 'published' OR clock.now >= program.registration_deadline THEN 'closed'
        WHEN program.registration_opens_at IS NOT NULL AND clock.now < program.registration_opens_at THEN 'not_open'
        WHEN program.approval_required THEN 'pending'
        WHEN program.capacity IS NULL OR program.confirmed_count < program.capacity THEN 'confirmed'
        WHEN program.waitlist_enabled THEN 'waitlisted'
        ELSE 'full'
    END"""


def _register_newcomer_statement(*, lock: bool) -> TextClause:
    """PostgreSQL: the whole registration of a newcomer as one statement, run on its own
    (autocommit), so it is its own transaction. It locks the program row, judges Rules
    1, 2 and 4 on the row's newest version, and writes the registration, its outbox row
    and its audit entry (data-modifying CTEs), doing in one round trip what
    `_lock_seat_rules`, `_write_new` and the commit do in four. The lock is held only
    while the server runs it, never across a network round trip. Rule 1 is judged, and
    every timestamp written, with the server's clock read once the lock is held: the
    moment the registration commits, give or take the statement's own run. Run with
    `run_alone`.

    Returns one row (none if the program does not exist): the decision (`closed`,
    `not_open`, `full`, or the new registration's status), what the messages need
    (program status, opening time, deadline), and the ids written, which are null when
    nothing was (the address is registered already, or the decision refused it).
    `test_registrations` checks that it writes what the three statements write."""
    person = [c for c in _REGISTRATION_COLUMNS if c not in _DECIDED_COLUMNS]
    kind_by_status = " ".join(f"WHEN '{status}' THEN '{kind}'" for status, kind in _EMAIL_FOR_STATUS.items())
    sql = f"""
        WITH program AS (
            SELECT id, status, timezone, registration_opens_at, registration_deadline, capacity,
                   confirmed_count, waitlist_enabled, approval_required
            FROM programs WHERE id = :program_id {"FOR UPDATE" if lock else ""}
        ), decision AS (
            SELECT program.id, program.status AS program_status, program.timezone,
                   program.registration_opens_at, program.registration_deadline, clock.now,
                   {NEWCOMER_DECISION_SQL} AS status
            FROM program, LATERAL (SELECT clock_timestamp() AS now) AS clock
        ), registration AS (
            INSERT INTO registrations ({", ".join(person)}, {", ".join(_DECIDED_COLUMNS)})
            SELECT {", ".join(":" + c for c in person)},
                   decision.id, decision.status, COALESCE(NULLIF(:timezone, ''), decision.timezone),
                   1, decision.now, decision.now, decision.now,
                   CASE WHEN decision.status = 'confirmed' THEN decision.now END,
                   CASE WHEN decision.status = 'waitlisted' THEN decision.now END,
                   CASE WHEN :consent THEN decision.now END
            FROM decision
            WHERE decision.status IN ({", ".join(f"'{status}'" for status in _EMAIL_FOR_STATUS)})
            ON CONFLICT (program_id, email_normalized) DO NOTHING
            RETURNING id, program_id, email, status, created_at
        ), email AS (
            INSERT INTO emails (registration_id, kind, dedupe_key, recipient, status, attempts, payload,
                                message_id, created_at, enqueued_at)
            SELECT id, kind, kind || '\\:' || id || '\\:r1', email, 'pending', 0, '{{}}', :message_id,
                   created_at, created_at
            FROM (SELECT *, CASE status {kind_by_status} END AS kind FROM registration) AS written
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING id
        ), audit AS (
            INSERT INTO audit_entries (actor_type, organiser_id, action, program_id, registration_id, details,
                                       created_at)
            SELECT :actor_type, CAST(:organiser_id AS INTEGER), 'registration.created', program_id, id,
                   jsonb_build_object('status', status), created_at
            FROM registration
        )
        SELECT decision.status, decision.program_status, decision.registration_opens_at,
               decision.registration_deadline,
               (SELECT id FROM registration) AS registration_id, (SELECT id FROM email) AS email_id
        FROM decision
    """
    table, audit_entries = _registrations.c, AuditEntry.__table__.c
    types = [bindparam(c, type_=table[c].type) for c in person]
    types += [
        bindparam("program_id", type_=_programs.c.id.type),
        bindparam("timezone", type_=table.timezone.type),
        bindparam("consent", type_=Boolean()),
        bindparam("message_id", type_=Email.__table__.c.message_id.type),
        bindparam("actor_type", type_=audit_entries.actor_type.type),
        bindparam("organiser_id", type_=audit_entries.organiser_id.type),
    ]
    return text(sql).bindparams(*types)


# The columns of a new registration that the statement fills in itself.
_DECIDED_COLUMNS = [
    "program_id",
    "status",
    "timezone",
    "revision",
    "created_at",
    "updated_at",
    "status_changed_at",
    "confirmed_at",
    "waitlisted_at",
    "consent_at",
]
_REGISTER_NEWCOMER = {lock: compile_for_driver(_register_newcomer_statement(lock=lock)) for lock in (True, False)}


@dataclass(frozen=True)
class _NewRegistration:
    """What the outbox and the audit trail need of a registration written by `_write_new`."""

    id: int
    program_id: int
    email: str
    revision: int


def _lock_seat_rules(program_id: int) -> Row[Any]:
    """`_lock_program` for the public path: only the columns the rules read."""
    # On the session's connection (its transaction) directly: these statements need
    # nothing of the ORM, and skipping it is a good part of their cost.
    row = (
        db.session.connection()
        .execute(_SEAT_RULES_LOCKED if _use_row_lock() else _SEAT_RULES, {"program_id": program_id})
        .first()
    )
    if row is None:
        raise ProgramNotFound(str(program_id))
    return row


def _write_new(
    program: Row[Any], data: RegistrationInput, email_normalized: str, status: str, now: datetime, actor: Actor
) -> tuple[int, int | None] | None:
    """Write a new registration (as `_new_registration`, `_apply_details` and
    `_set_status` would), its email to the outbox and its audit entry, in the caller's
    transaction. Returns the registration's and the email's ids, or None (writing
    nothing) if the address is registered already."""
    values = _registration_values(program, data, email_normalized, status, now)
    registration_id = db.session.scalar(_INSERT_REGISTRATION, values)
    if registration_id is None:
        return None
    registration = _NewRegistration(registration_id, program.id, values["email"], 1)
    email_id = queue_email(registration, _EMAIL_FOR_STATUS[status])
    audit.record(actor, "registration.created", registration=registration, status=status)
    return registration_id, email_id


def _registration_values(
    program: Row[Any], data: RegistrationInput, email_normalized: str, status: str, now: datetime
) -> dict[str, Any]:
    """The columns of a new registration, cleaned (no line breaks can reach an email header)."""
    token = new_token()
    return _details(data, program.timezone, now) | {
        "program_id": program.id,
        "email_normalized": email_normalized,
        "status": status,
        "token": token,
        "token_selector": token[:_TOKEN_SELECTOR_LENGTH],
        "revision": 1,
        "created_at": now,
        "updated_at": now,
        "status_changed_at": now,
        "confirmed_at": now if status == "confirmed" else None,
        "waitlisted_at": now if status == "waitlisted" else None,
    }


def _check_open(program: Program | Row[Any], now: datetime) -> None:
    """Rule 1: open iff opens_at <= now < deadline, judged now, inside the transaction."""
    if program.status != "published" or now >= program.registration_deadline:
        raise RegistrationClosed(program.registration_deadline if program.status == "published" else None)
    if program.registration_opens_at is not None and now < program.registration_opens_at:
        raise RegistrationNotOpen(program.registration_opens_at)


def _status_for_new(program: Program | Row[Any], confirmed: int) -> str:
    """Rules 2 and 4: pending if approval is required, else confirmed while seats
    remain, else waitlisted if the waitlist is on, else refused."""
    if program.approval_required:
        return "pending"
    if program.capacity is None or confirmed < program.capacity:
        return "confirmed"
    if program.waitlist_enabled:
        return "waitlisted"
    raise ProgramFull(program.slug)


def _set_status(registration: Registration, status: str, now: datetime) -> None:
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


def _new_registration(program: Program, email_normalized: str, now: datetime) -> Registration:
    token = new_token()
    registration = Registration(
        program_id=program.id,
        email_normalized=email_normalized,
        token=token,
        token_selector=token[:_TOKEN_SELECTOR_LENGTH],
        revision=0,
        created_at=now,
    )
    db.session.add(registration)
    return registration


def _details(data: RegistrationInput, default_timezone: str, now: datetime) -> dict[str, Any]:
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


def _apply_details(registration: Registration, data: RegistrationInput, default_timezone: str, now: datetime) -> None:
    """Copy what the person typed onto a registration (`_details`)."""
    for column, value in _details(data, default_timezone, now).items():
        setattr(registration, column, value)
    registration.cancelled_at = None


def register_participant(program_id: int, data: RegistrationInput, *, actor: Actor) -> RegistrationOutcome:
    """Register a person for a program, or re-send details to one already registered.

    Side effects: commits one transaction (the registration or its reactivation, an
    audit entry, an outbox row), then enqueues the email. Raises RegistrationClosed,
    RegistrationNotOpen or ProgramFull, changing nothing.
    """
    email_normalized = normalize_email(data.email)
    if db.engine.dialect.name == "postgresql":
        try:
            outcome = _register_newcomer(program_id, data, email_normalized, actor)
        except IntegrityError:
            outcome = None  # another unique value (the token) collided: the full path tries afresh
        if outcome is not None:
            return outcome
    try:
        return _register(program_id, data, email_normalized, actor)
    except IntegrityError:
        # A repeated address is not an error (the insert skips it); this is another
        # unique value colliding, which a second try with a fresh token resolves.
        db.session.rollback()
        return _register(program_id, data, email_normalized, actor)


def _register_newcomer(
    program_id: int, data: RegistrationInput, email_normalized: str, actor: Actor
) -> RegistrationOutcome | None:
    """PostgreSQL: the common case, a newcomer, in one statement that is its own
    transaction (`_register_newcomer_statement`). Raises RegistrationClosed or
    RegistrationNotOpen (nothing written). Returns None, having written nothing, when
    the person needs `_register`: their address is registered already (Rule 3), or
    there is no seat for a newcomer (they may be registered already; if not, it
    raises ProgramFull).

    Side effects: commits the registration, its outbox row and its audit entry, then
    enqueues the email."""
    token = new_token()
    # The statement stamps consent, like every time it writes, with its own clock.
    details = {k: v for k, v in _details(data, "", utcnow()).items() if k != "consent_at"}
    params = details | {
        "program_id": program_id,
        "email_normalized": email_normalized,
        "token": token,
        "token_selector": token[:_TOKEN_SELECTOR_LENGTH],
        "consent": data.consent,
        "message_id": new_message_id(),
        "actor_type": actor.type,
        "organiser_id": actor.organiser_id,
    }
    statement = _REGISTER_NEWCOMER[bool(current_app.config.get("REGISTRATION_CAPACITY_LOCK", True))]
    row = run_alone(db.engine, statement, params)
    if row is None:
        raise ProgramNotFound(str(program_id))
    if row.status == "closed":
        published = row.program_status == "published"
        raise RegistrationClosed(row.registration_deadline.astimezone(UTC) if published else None)
    if row.status == "not_open":
        raise RegistrationNotOpen(row.registration_opens_at.astimezone(UTC))
    if row.registration_id is None:
        return None
    dispatch([row.email_id] if row.email_id else [])
    return RegistrationOutcome(row.registration_id, row.status, created=True)


def _register(program_id: int, data: RegistrationInput, email_normalized: str, actor: Actor) -> RegistrationOutcome:
    try:
        program = _lock_seat_rules(program_id)
        now = utcnow()
        _check_open(program, now)
        try:
            status = _status_for_new(program, program.confirmed_count)
        except ProgramFull:
            status = ""  # no seat for a newcomer; someone registered already still hears from us
        written = _write_new(program, data, email_normalized, status, now, actor) if status else None
        if written is not None:
            registration_id, email_id = written
            outcome = RegistrationOutcome(registration_id, status, created=True)
        else:
            outcome, email_id = _register_again(program, data, email_normalized, now, actor)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    dispatch([email_id] if email_id else [])
    return outcome


def _register_again(
    program: Row[Any], data: RegistrationInput, email_normalized: str, now: datetime, actor: Actor
) -> tuple[RegistrationOutcome, int | None]:
    """Rule 3, for an address with a registration already: no second row. Someone
    active is reminded of their details; someone who cancelled comes back, if a
    newcomer could. Raises ProgramFull if nobody has this address and there is no room.
    Returns the outcome and the outbox row to dispatch after the commit."""
    existing = db.session.scalar(
        select(Registration)
        .where(Registration.program_id == program.id, Registration.email_normalized == email_normalized)
        .execution_options(populate_existing=True)
    )
    if existing is None:
        raise ProgramFull(program.slug)
    if existing.status != "cancelled":
        bucket = int(now.timestamp() // ALREADY_REGISTERED_EMAIL_INTERVAL.total_seconds())
        email_id = queue_email(existing, "already_registered", dedupe_key=f"already_registered:{existing.id}:{bucket}")
        audit.record(actor, "registration.repeated", registration=existing)
        return RegistrationOutcome(existing.id, existing.status, created=False), email_id
    status = _status_for_new(program, program.confirmed_count)
    _apply_details(existing, data, program.timezone, now)
    _set_status(existing, status, now)
    db.session.flush()
    email_id = queue_email(existing, _EMAIL_FOR_STATUS[status])
    audit.record(actor, "registration.reactivated", registration=existing, status=status)
    return RegistrationOutcome(existing.id, status, created=True), email_id


def promote_from_waitlist(program: Program, *, actor: Actor) -> list[int]:
    """Fill free seats from the waitlist, earliest first, inside the caller's
    transaction (which must hold the program lock). Queues a confirmation for each
    promoted registrant; returns the outbox ids for the caller to dispatch after commit."""
    if program.capacity is None:
        free = None
    else:
        free = program.capacity - count_confirmed(program.id)
        if free <= 0:
            return []
    query = (
        select(Registration)
        .where(Registration.program_id == program.id, Registration.status == "waitlisted")
        .order_by(Registration.waitlisted_at, Registration.id)
    )
    if free is not None:
        query = query.limit(free)
    now = utcnow()
    email_ids: list[int] = []
    for registration in db.session.scalars(query):
        _set_status(registration, "confirmed", now)
        db.session.flush()
        audit.record(actor, "registration.promoted", registration=registration)
        email_id = queue_email(registration, "confirmation")
        if email_id:
            email_ids.append(email_id)
    return email_ids


def cancel_registration(registration_id: int, *, actor: Actor) -> bool:
    """Cancel a registration; if it held a seat, the seat goes to the waitlist.

    Side effects: as `apply_action` (one commit, audit entries, outbox rows for the
    cancellation and any promotion). Returns False if it was already cancelled or
    rejected (nothing changes: safe to call twice).
    """
    program_id = db.session.scalar(select(Registration.program_id).where(Registration.id == registration_id))
    if program_id is None:
        return False
    return apply_action(program_id, [registration_id], "cancel", actor=actor).changed == 1


# --- organiser actions -----------------------------------------------------------------

ORGANISER_ACTIONS = ("approve", "reject", "cancel", "promote", "resend", "mark_attended", "mark_not_attended")


def action_applies(action: str, status: str, attended: bool) -> bool:
    """Whether an organiser action changes a registration in `status` (`attended`: it
    has an attendance mark). `apply_action` skips the rest; pages offer only these."""
    return {
        "approve": status == "pending",
        "promote": status == "waitlisted",
        "reject": status in ACTIVE_STATUSES,
        "cancel": status in ACTIVE_STATUSES,
        "resend": status in _RESEND_KIND,
        "mark_attended": not attended,
        "mark_not_attended": attended,
    }.get(action, False)


_RESEND_KIND = {"confirmed": "confirmation", "waitlisted": "waitlisted", "pending": "pending"}


@dataclass
class ActionResult:
    """How many registrations an action changed, and how many it left alone (already
    in that state, or not eligible) or could not change for lack of seats."""

    changed: int = 0
    skipped: int = 0
    no_seat: int = 0
    promoted: int = 0


def apply_action(program_id: int, registration_ids: list[int], action: str, *, actor: Actor) -> ActionResult:
    """Approve, reject, cancel, move up from the waitlist, resend the status email, or
    record attendance, for these registrations of one program, in one transaction
    under the program lock. Capacity is obeyed (approving beyond it waitlists; moving up
    beyond it does nothing), seats freed go to the waitlist, every change is audited
    with the organiser's name and every email goes through the outbox.

    Side effects: commits once, then enqueues the emails.
    """
    if action not in ORGANISER_ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    result = ActionResult()
    email_ids: list[int] = []
    try:
        program = _lock_program(program_id)
        now = utcnow()
        registrations = list(
            db.session.scalars(
                select(Registration)
                .where(Registration.program_id == program.id, Registration.id.in_(registration_ids))
                .order_by(Registration.created_at, Registration.id)
                .execution_options(populate_existing=True)
            )
        )
        result.skipped = len(set(registration_ids)) - len(registrations)
        freed = False
        for registration in registrations:
            previous = registration.status
            kind: str | None = None
            if not action_applies(action, previous, registration.attended_at is not None):
                result.skipped += 1
                continue
            if action == "approve":
                status = "confirmed" if _has_seat(program) else "waitlisted"
                _set_status(registration, status, now)
                kind = _EMAIL_FOR_STATUS[status]
            elif action == "promote":
                if not _has_seat(program):
                    result.no_seat += 1
                    continue
                _set_status(registration, "confirmed", now)
                kind = "confirmation"
            elif action == "reject":
                _set_status(registration, "rejected", now)
                kind = "rejected"
                freed = freed or previous == "confirmed"
            elif action == "cancel":
                _set_status(registration, "cancelled", now)
                kind = "cancelled"
                freed = freed or previous == "confirmed"
            elif action == "resend":
                kind = _RESEND_KIND[previous]
            elif action == "mark_attended":
                registration.attended_at = now
            elif action == "mark_not_attended":
                registration.attended_at = None
            else:
                result.skipped += 1
                continue
            db.session.flush()
            result.changed += 1
            audit.record(actor, f"registration.{action}", registration=registration, previous=previous)
            if kind:
                key = f"{kind}:{registration.id}:resend:{now.timestamp()}" if action == "resend" else None
                email_id = queue_email(registration, kind, dedupe_key=key)
                if email_id:
                    email_ids.append(email_id)
        if freed:
            promoted = promote_from_waitlist(program, actor=Actor.system())
            result.promoted = len(promoted)
            email_ids += promoted
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    dispatch(email_ids)
    return result


def _has_seat(program: Program) -> bool:
    return program.capacity is None or count_confirmed(program.id) < program.capacity


def add_registrant(
    program_id: int, data: RegistrationInput, *, actor: Actor, beyond_capacity: bool = False
) -> RegistrationOutcome:
    """An organiser adds someone by hand (a VIP, a phone registration). The deadline and
    approval do not apply; capacity does, unless `beyond_capacity` says explicitly to
    exceed it (then they are confirmed anyway). Raises RegistrationExists if the email is
    registered already (organisers may know that), ProgramFull if there is no seat and
    no waitlist.

    Side effects: commits, then enqueues the confirmation (or waitlist) email.
    """
    email_normalized = normalize_email(data.email)
    try:
        program = _lock_program(program_id)
        now = utcnow()
        existing = db.session.scalar(
            select(Registration).where(
                Registration.program_id == program.id, Registration.email_normalized == email_normalized
            )
        )
        if existing is not None and existing.status != "cancelled":
            raise RegistrationExists(existing.id)
        if beyond_capacity or _has_seat(program):
            status = "confirmed"
        elif program.waitlist_enabled:
            status = "waitlisted"
        else:
            raise ProgramFull(program.slug)
        registration = existing or _new_registration(program, email_normalized, now)
        _apply_details(registration, data, program.timezone, now)
        _set_status(registration, status, now)
        db.session.flush()
        email_id = queue_email(registration, _EMAIL_FOR_STATUS[status])
        audit.record(actor, "registration.added", registration=registration, status=status, beyond=beyond_capacity)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    dispatch([email_id] if email_id else [])
    return RegistrationOutcome(registration.id, status, created=existing is None)
