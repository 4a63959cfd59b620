"""Registrations: the rules people rely on (DESIGN.md, Rules 1-6).

Every state change here runs in one `unit_of_work` that holds the program's row lock
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

from sqlalchemy import Boolean, TextClause, bindparam, select, text
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import AuditEntry, Email, Program, Registration, utcnow
from webapp.models.sql import compile_for_driver, run_alone
from webapp.services import audit, rules
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
from webapp.services.transactions import unit_of_work

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
    must not show that difference to the person (no enumeration). `program_full` says
    the program had no seat for a newcomer, so the person must see the page a newcomer
    refused as fully booked sees (Rule 3), though this registrant was emailed."""

    registration_id: int
    status: str
    created: bool
    program_full: bool = False


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
    already (`test_concurrency` shows what happens without it)."""
    return db.session.get_bind().dialect.name != "sqlite"


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
# On PostgreSQL a newcomer is registered by one statement (`_register_newcomer_statement`),
# built once here and run with parameters: registration is the one write every
# participant makes, all at once when a program is announced (`bench/rush.py`). Every
# other registration (SQLite, an address registered already, a full program) goes
# through the ORM in `_register`.

_programs = Program.__table__
_registrations = Registration.__table__

# The columns of a new registration.
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


def _register_newcomer_statement(*, lock: bool) -> TextClause:
    """PostgreSQL: the whole registration of a newcomer as one statement, run on its own
    (autocommit), so it is its own transaction. It locks the program row, judges Rules
    1, 2 and 4 on the row's newest version, and writes the registration, its outbox row
    and its audit entry (data-modifying CTEs), doing in one round trip what `_register`
    does in several. The lock is held only
    while the server runs it, never across a network round trip. Rule 1 is judged, and
    every timestamp written, with the server's clock read once the lock is held: the
    moment the registration commits, give or take the statement's own run. Run with
    `run_alone`.

    Returns one row (none if the program does not exist): the decision (`closed`,
    `not_open`, `full`, or the new registration's status), what the messages need
    (program status, opening time, deadline), and the ids written, which are null when
    nothing was (the address is registered already, or the decision refused it).
    `test_registrations` checks that it writes what `_register` writes."""
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
                   {rules.NEWCOMER_DECISION_SQL} AS status
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
_REGISTER_NEWCOMER = compile_for_driver(_register_newcomer_statement(lock=True))


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
        updated_at=now,
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
        # unique value colliding (rolled back), which a second try with a fresh token resolves.
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
    row = run_alone(db.engine, _REGISTER_NEWCOMER, params)
    if row is None:
        raise ProgramNotFound(str(program_id))
    _refuse_if_closed(row.status, row.program_status, row.registration_deadline, row.registration_opens_at)
    if row.registration_id is None:
        return None
    dispatch([row.email_id] if row.email_id else [])
    return RegistrationOutcome(row.registration_id, row.status, created=True)


def _register(program_id: int, data: RegistrationInput, email_normalized: str, actor: Actor) -> RegistrationOutcome:
    with unit_of_work():
        program = _lock_program(program_id)
        now = utcnow()
        decision = rules.decide_newcomer(program, program.confirmed_count, now)
        _refuse_if_closed(decision, program.status, program.registration_deadline, program.registration_opens_at)
        existing = db.session.scalar(
            select(Registration)
            .where(Registration.program_id == program.id, Registration.email_normalized == email_normalized)
            .execution_options(populate_existing=True)
        )
        if existing is not None:
            return _register_again(program, existing, data, now, actor, decision=decision)
        if decision == "full":
            raise ProgramFull(program.slug)
        registration = _new_registration(program, email_normalized, now)
        _apply_details(registration, data, program.timezone, now)
        _set_status(registration, decision, now)
        db.session.flush()
        queue_email(registration, _EMAIL_FOR_STATUS[decision])
        audit.record(actor, "registration.created", registration=registration, status=decision)
        return RegistrationOutcome(registration.id, decision, created=True)


def _refuse_if_closed(decision: str, status: str, deadline: datetime, opens_at: datetime | None) -> None:
    """Rule 1's refusals, saying when registration closed (for a published program) or
    when it opens."""
    if decision == "closed":
        raise RegistrationClosed(deadline.astimezone(UTC) if status == "published" else None)
    if decision == "not_open" and opens_at is not None:
        raise RegistrationNotOpen(opens_at.astimezone(UTC))


def _register_again(
    program: Program, existing: Registration, data: RegistrationInput, now: datetime, actor: Actor, *, decision: str
) -> RegistrationOutcome:
    """Rule 3, for an address with a registration already: no second row. Someone
    active is reminded of their details; someone who cancelled comes back, if a
    newcomer could, and their email says that the registration was renewed with the
    details typed, so the owner of the address learns of it. Raises ProgramFull if there
    is no room for them (`decision` is "full")."""
    full = decision == "full"
    if existing.status != "cancelled":
        bucket = int(now.timestamp() // ALREADY_REGISTERED_EMAIL_INTERVAL.total_seconds())
        queue_email(existing, "already_registered", dedupe_key=f"already_registered:{existing.id}:{bucket}")
        audit.record(actor, "registration.repeated", registration=existing)
        return RegistrationOutcome(existing.id, existing.status, created=False, program_full=full)
    if full:
        raise ProgramFull(program.slug)
    status = decision
    _apply_details(existing, data, program.timezone, now)
    _set_status(existing, status, now)
    db.session.flush()
    queue_email(existing, _EMAIL_FOR_STATUS[status], payload={"renewed": True})
    audit.record(actor, "registration.reactivated", registration=existing, status=status)
    return RegistrationOutcome(existing.id, status, created=True)


def promote_from_waitlist(program: Program, *, actor: Actor) -> list[int]:
    """Fill free seats from the waitlist, earliest first, inside the caller's
    transaction (which must hold the program lock). Queues a confirmation for each
    promoted registrant (the caller's `unit_of_work` dispatches it); returns their outbox ids."""
    free = rules.free_seats(program, count_confirmed(program.id))
    if free == 0:
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
    with unit_of_work():
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
            if action == "approve" and previous == "pending":
                status = rules.decide_approval(program, count_confirmed(program.id))
                _set_status(registration, status, now)
                kind = _EMAIL_FOR_STATUS[status]
            elif action == "promote" and previous == "waitlisted":
                if not rules.has_seat(program, count_confirmed(program.id)):
                    result.no_seat += 1
                    continue
                _set_status(registration, "confirmed", now)
                kind = "confirmation"
            elif action == "reject" and previous in ACTIVE_STATUSES:
                _set_status(registration, "rejected", now)
                kind = "rejected"
                freed = freed or previous == "confirmed"
            elif action == "cancel" and previous in ACTIVE_STATUSES:
                _set_status(registration, "cancelled", now)
                kind = "cancelled"
                freed = freed or previous == "confirmed"
            elif action == "resend" and previous in _RESEND_KIND:
                kind = _RESEND_KIND[previous]
            elif action == "mark_attended" and registration.attended_at is None:
                registration.attended_at = now
            elif action == "mark_not_attended" and registration.attended_at is not None:
                registration.attended_at = None
            else:
                result.skipped += 1
                continue
            db.session.flush()
            result.changed += 1
            audit.record(actor, f"registration.{action}", registration=registration, previous=previous)
            if kind:
                key = f"{kind}:{registration.id}:resend:{now.timestamp()}" if action == "resend" else None
                queue_email(registration, kind, dedupe_key=key)
        if freed:
            result.promoted = len(promote_from_waitlist(program, actor=Actor.system()))
    return result


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
    with unit_of_work():
        program = _lock_program(program_id)
        now = utcnow()
        existing = db.session.scalar(
            select(Registration).where(
                Registration.program_id == program.id, Registration.email_normalized == email_normalized
            )
        )
        if existing is not None and existing.status != "cancelled":
            raise RegistrationExists(existing.id)
        status = rules.decide_added_by_hand(program, count_confirmed(program.id), beyond_capacity=beyond_capacity)
        if status == "full":
            raise ProgramFull(program.slug)
        registration = existing or _new_registration(program, email_normalized, now)
        _apply_details(registration, data, program.timezone, now)
        _set_status(registration, status, now)
        db.session.flush()
        queue_email(registration, _EMAIL_FOR_STATUS[status])
        audit.record(actor, "registration.added", registration=registration, status=status, beyond=beyond_capacity)
    return RegistrationOutcome(registration.id, status, created=existing is None)
