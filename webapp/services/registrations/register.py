"""Registering through the public form (Rules 1 to 4 for a newcomer, Rule 3 for an
address registered already).

On PostgreSQL a newcomer is registered by one statement (`_register_newcomer_statement`):
registration is the one write every participant makes, all at once when a program is
announced (`bench/rush.py`). Every other registration (SQLite, an address registered
already, a full program) goes through the ORM in `_register`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Boolean, TextClause, bindparam, select, text
from sqlalchemy.exc import IntegrityError

from webapp.database import compile_for_driver, database_now, is_postgresql, run_alone
from webapp.extensions import db
from webapp.models import AuditEntry, Email, Program, Registration, utcnow
from webapp.services import audit
from webapp.services.audit import Actor
from webapp.services.errors import ProgramFull, ProgramNotFound, RegistrationClosed, RegistrationNotOpen
from webapp.services.outbox import new_message_id, queue_email
from webapp.services.registrations import core, rules
from webapp.services.registrations.core import (
    EMAIL_FOR_STATUS,
    TOKEN_SELECTOR_LENGTH,
    RegistrationInput,
    RegistrationOutcome,
    apply_details,
    details,
    lock_program,
    new_registration,
    set_status,
)
from webapp.services.text import normalize_email
from webapp.services.transactions import dispatch, unit_of_work

# At most one "you are already registered" email per registration per this long, so
# the form cannot be used to flood somebody's inbox.
ALREADY_REGISTERED_EMAIL_INTERVAL = timedelta(minutes=10)


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
    kind_by_status = " ".join(f"WHEN '{status}' THEN '{kind}'" for status, kind in EMAIL_FOR_STATUS.items())
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
            WHERE decision.status IN ({", ".join(f"'{status}'" for status in EMAIL_FOR_STATUS)})
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


def register_participant(program_id: int, data: RegistrationInput, *, actor: Actor) -> RegistrationOutcome:
    """Register a person for a program, or re-send details to one already registered.

    Side effects: commits one transaction (the registration or its reactivation, an
    audit entry, an outbox row), then enqueues the email. Raises RegistrationClosed,
    RegistrationNotOpen or ProgramFull, changing nothing.
    """
    email_normalized = normalize_email(data.email)
    if is_postgresql():
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
    token = core.new_token()
    # The statement stamps consent, like every time it writes, with its own clock.
    typed = {k: v for k, v in details(data, "", utcnow()).items() if k != "consent_at"}
    params = typed | {
        "program_id": program_id,
        "email_normalized": email_normalized,
        "token": token,
        "token_selector": token[:TOKEN_SELECTOR_LENGTH],
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
        program = lock_program(program_id)
        now = database_now()
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
        registration = new_registration(program, email_normalized, now)
        apply_details(registration, data, program.timezone, now)
        set_status(registration, decision, now)
        db.session.flush()
        queue_email(registration, EMAIL_FOR_STATUS[decision])
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
    apply_details(existing, data, program.timezone, now)
    set_status(existing, status, now)
    db.session.flush()
    queue_email(existing, EMAIL_FOR_STATUS[status], payload={"renewed": True})
    audit.record(actor, "registration.reactivated", registration=existing, status=status)
    return RegistrationOutcome(existing.id, status, created=True)
