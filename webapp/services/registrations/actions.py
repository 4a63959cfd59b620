"""Changes organisers make (approve, reject, cancel, move up, resend, attendance, add
by hand), cancelling by the registrant, and filling freed seats from the waiting list."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from webapp.database import database_now
from webapp.extensions import db
from webapp.models import Program, Registration
from webapp.services import audit
from webapp.services.audit import Actor
from webapp.services.errors import ProgramFull, RegistrationExists
from webapp.services.outbox import queue_email
from webapp.services.registrations import rules
from webapp.services.registrations.core import (
    ACTIVE_STATUSES,
    EMAIL_FOR_STATUS,
    RegistrationInput,
    RegistrationOutcome,
    apply_details,
    lock_program,
    new_registration,
    set_status,
)
from webapp.services.registrations.queries import count_confirmed
from webapp.services.text import normalize_email
from webapp.services.transactions import unit_of_work


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
    now = database_now()
    email_ids: list[int] = []
    for registration in db.session.scalars(query):
        set_status(registration, "confirmed", now)
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
    with unit_of_work():
        program = lock_program(program_id)
        now = database_now()
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
                status = rules.decide_approval(program, count_confirmed(program.id))
                set_status(registration, status, now)
                kind = EMAIL_FOR_STATUS[status]
            elif action == "promote":
                if not rules.has_seat(program, count_confirmed(program.id)):
                    result.no_seat += 1
                    continue
                set_status(registration, "confirmed", now)
                kind = "confirmation"
            elif action in ("reject", "cancel"):
                set_status(registration, "rejected" if action == "reject" else "cancelled", now)
                kind = "rejected" if action == "reject" else "cancelled"
                freed = freed or previous == "confirmed"
            elif action == "resend":
                kind = _RESEND_KIND[previous]
            else:
                registration.attended_at = now if action == "mark_attended" else None
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
        program = lock_program(program_id)
        now = database_now()
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
        registration = existing or new_registration(program, email_normalized, now)
        apply_details(registration, data, program.timezone, now)
        set_status(registration, status, now)
        db.session.flush()
        queue_email(registration, EMAIL_FOR_STATUS[status])
        audit.record(actor, "registration.added", registration=registration, status=status, beyond=beyond_capacity)
    return RegistrationOutcome(registration.id, status, created=existing is None)
