"""DESIGN.md Rules 1-6, against the real database."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from tests.conftest import program_data, registration_input, starting_at
from webapp.extensions import db
from webapp.models import AuditEntry, Email, Registration
from webapp.services.audit import Actor
from webapp.services.errors import ProgramFull, RegistrationClosed, RegistrationNotOpen
from webapp.services.programs import import_program
from webapp.services.registrations import (
    RegistrationOutcome,
    cancel_registration,
    find_by_token,
    register_participant,
)
from webapp.services.registrations.core import EMAIL_FOR_STATUS

PARTICIPANT = Actor.participant()


def _program(**overrides: object) -> int:
    program, _ = import_program(program_data(**overrides), actor=Actor.system())
    return program.id


def _emails(kind: str | None = None) -> list[Email]:
    query = select(Email).order_by(Email.id)
    if kind:
        query = query.where(Email.kind == kind)
    return list(db.session.scalars(query))


def _count(status: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Registration).where(Registration.status == status))


def test_registration_is_confirmed_with_outbox_row_and_audit(ctx: Flask) -> None:
    program_id = _program()
    outcome = register_participant(program_id, registration_input(), actor=PARTICIPANT)
    assert outcome.created and outcome.status == "confirmed"
    registration = db.session.get(Registration, outcome.registration_id)
    assert registration.confirmed_at is not None and registration.consent_at is not None
    [email] = _emails()
    assert (email.kind, email.status, email.recipient) == ("confirmation", "pending", "ayesha@example.com")
    assert email.message_id.endswith("@rollcall.test>")
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.registration_id.is_not(None))) == (
        "registration.created"
    )


def test_token_is_long_random_and_found_only_exactly(ctx: Flask) -> None:
    program_id = _program()
    a = register_participant(program_id, registration_input(email="a@example.com"), actor=PARTICIPANT)
    b = register_participant(program_id, registration_input(email="b@example.com"), actor=PARTICIPANT)
    token_a = db.session.get(Registration, a.registration_id).token
    token_b = db.session.get(Registration, b.registration_id).token
    assert token_a != token_b and len(token_a) >= 43  # 32 bytes = 256 bits, base64url
    assert find_by_token(token_a).id == a.registration_id
    assert find_by_token(token_a[:-1] + ("A" if token_a[-1] != "A" else "B")) is None
    assert find_by_token(token_a[:16]) is None
    assert find_by_token("") is None


def test_capacity_then_waitlist(ctx: Flask) -> None:
    program_id = _program(capacity=2, waitlist=True)
    statuses = [
        register_participant(program_id, registration_input(email=f"p{i}@example.com"), actor=PARTICIPANT).status
        for i in range(4)
    ]
    assert statuses == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert [e.kind for e in _emails()] == ["confirmation", "confirmation", "waitlisted", "waitlisted"]


def test_full_without_waitlist_is_refused_and_changes_nothing(ctx: Flask) -> None:
    program_id = _program(capacity=1)
    register_participant(program_id, registration_input(email="first@example.com"), actor=PARTICIPANT)
    with pytest.raises(ProgramFull):
        register_participant(program_id, registration_input(email="second@example.com"), actor=PARTICIPANT)
    assert db.session.scalar(select(func.count()).select_from(Registration)) == 1
    assert len(_emails()) == 1


def test_same_email_again_creates_no_row_and_emails_details(ctx: Flask) -> None:
    program_id = _program()
    first = register_participant(program_id, registration_input(email="Ayesha@Example.com"), actor=PARTICIPANT)
    again = register_participant(
        program_id, registration_input(email="  ayesha@EXAMPLE.com ", full_name="Someone Else"), actor=PARTICIPANT
    )
    assert again.registration_id == first.registration_id and not again.created
    assert db.session.scalar(select(func.count()).select_from(Registration)) == 1
    assert db.session.get(Registration, first.registration_id).full_name == "Ayesha Khan"
    assert [e.kind for e in _emails()] == ["confirmation", "already_registered"]
    # Hammering the form does not flood the inbox.
    register_participant(program_id, registration_input(email="ayesha@example.com"), actor=PARTICIPANT)
    assert len(_emails("already_registered")) == 1


def test_cancel_frees_seat_for_earliest_waitlisted_in_same_transaction(ctx: Flask) -> None:
    program_id = _program(capacity=1, waitlist=True)
    holder = register_participant(program_id, registration_input(email="holder@example.com"), actor=PARTICIPANT)
    first_wait = register_participant(program_id, registration_input(email="w1@example.com"), actor=PARTICIPANT)
    register_participant(program_id, registration_input(email="w2@example.com"), actor=PARTICIPANT)
    assert cancel_registration(holder.registration_id, actor=PARTICIPANT)
    db.session.expire_all()
    assert db.session.get(Registration, holder.registration_id).status == "cancelled"
    assert db.session.get(Registration, first_wait.registration_id).status == "confirmed"
    assert _count("confirmed") == 1 and _count("waitlisted") == 1
    kinds = [(e.kind, e.recipient) for e in _emails()][-2:]
    assert kinds == [("cancelled", "holder@example.com"), ("confirmation", "w1@example.com")]
    # Cancelling twice changes nothing.
    assert not cancel_registration(holder.registration_id, actor=PARTICIPANT)


def test_cancelled_registrant_is_reactivated_before_deadline(ctx: Flask) -> None:
    program_id = _program()
    first = register_participant(program_id, registration_input(), actor=PARTICIPANT)
    cancel_registration(first.registration_id, actor=PARTICIPANT)
    again = register_participant(program_id, registration_input(organisation="New Org"), actor=PARTICIPANT)
    assert again.registration_id == first.registration_id and again.status == "confirmed"
    registration = db.session.get(Registration, first.registration_id)
    assert registration.organisation == "New Org" and registration.cancelled_at is None
    assert [e.kind for e in _emails()] == ["confirmation", "cancelled", "confirmation"]


def test_approval_required_keeps_new_registrations_pending(ctx: Flask) -> None:
    program_id = _program(approval_required=True, capacity=5)
    outcome = register_participant(program_id, registration_input(), actor=PARTICIPANT)
    assert outcome.status == "pending"
    assert [e.kind for e in _emails()] == ["pending"]


@pytest.fixture
def non_utc_server_zone() -> Iterator[None]:
    """Run with the server's local zone far from UTC, so any naive local time shows."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"  # UTC+14
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


def _program_with_deadline(deadline: datetime, **overrides: object) -> int:
    return _program(**starting_at(deadline + timedelta(days=2), deadline=deadline.astimezone(UTC)), **overrides)


# The rule's edge, to the second, is `tests/unit/test_rules.py`'s. Here the service
# reads the deadline in UTC whatever the server's zone (+14 hours, so a mix-up would
# move it by 14 hours), with a minute's margin so a slow machine cannot cross it.


def test_deadline_a_minute_ahead_is_open(ctx: Flask, non_utc_server_zone: None) -> None:
    assert datetime.now().astimezone().utcoffset() == timedelta(hours=14)
    program_id = _program_with_deadline(datetime.now(UTC) + timedelta(minutes=1))
    assert register_participant(program_id, registration_input(), actor=PARTICIPANT).status == "confirmed"


def test_deadline_a_minute_ago_is_closed_and_says_when(ctx: Flask, non_utc_server_zone: None) -> None:
    program_id = _program_with_deadline(datetime.now(UTC) - timedelta(minutes=1))
    with pytest.raises(RegistrationClosed) as excinfo:
        register_participant(program_id, registration_input(), actor=PARTICIPANT)
    assert excinfo.value.deadline is not None and excinfo.value.deadline < datetime.now(UTC)
    assert db.session.scalar(select(func.count()).select_from(Registration)) == 0
    assert _emails() == []


def _wait_until_a_session_waits_for_a_lock(connection: object) -> None:
    """Poll (each poll its own snapshot of pg_stat_activity) until another session of this
    database is blocked on a lock; bounded."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        for _ in range(500):
            waiting = watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND wait_event_type = 'Lock'"
                )
            )
            if waiting:
                return
            time.sleep(0.02)
    pytest.fail("the registration never waited for the program's lock")


@pytest.mark.parametrize("returning", [False, True], ids=["newcomer", "after-cancelling"])
def test_deadline_is_judged_once_the_program_lock_is_held(ctx: Flask, returning: bool) -> None:
    """Rule 1 at the moment of commit, on both paths (the one statement for a newcomer,
    the ORM for someone who cancelled): a registration that arrives before the deadline
    but waits for the program's lock (another transaction holds it) until after the
    deadline is refused, and writes nothing. The holder sets the deadline to the
    database's clock once the registration is waiting, so no test sleeps: a clock read
    before the lock was granted would still be before the deadline."""
    program_id = _program_with_deadline(datetime.now(UTC) + timedelta(hours=1))
    if returning:
        first = register_participant(program_id, registration_input(), actor=PARTICIPANT)
        cancel_registration(first.registration_id, actor=PARTICIPANT)
    outcome: dict[str, str] = {}

    def register() -> None:
        with ctx.app_context():
            try:
                register_participant(program_id, registration_input(), actor=PARTICIPANT)
                outcome["result"] = "registered"
            except RegistrationClosed:
                outcome["result"] = "closed"

    with db.engine.connect() as other:
        with other.begin():
            other.execute(text("SELECT 1 FROM programs WHERE id = :id FOR UPDATE"), {"id": program_id})
            waiting = threading.Thread(target=register)
            waiting.start()
            _wait_until_a_session_waits_for_a_lock(other)
            other.execute(
                text("UPDATE programs SET registration_deadline = clock_timestamp() WHERE id = :id"),
                {"id": program_id},
            )
        waiting.join(timeout=10)
    assert outcome == {"result": "closed"}
    assert _count("confirmed") == 0


def test_not_open_yet(ctx: Flask) -> None:
    opens = datetime.now(UTC) + timedelta(days=1)
    program_id = _program(registration_opens_at=opens.isoformat())
    with pytest.raises(RegistrationNotOpen):
        register_participant(program_id, registration_input(), actor=PARTICIPANT)


def test_draft_program_is_closed(ctx: Flask) -> None:
    program_id = _program(status="draft")
    with pytest.raises(RegistrationClosed):
        register_participant(program_id, registration_input(), actor=PARTICIPANT)


def test_line_breaks_never_reach_the_outbox(ctx: Flask) -> None:
    program_id = _program()
    outcome = register_participant(
        program_id,
        registration_input(full_name="Eve\r\nBcc: victim@example.com", organisation="A\nB"),
        actor=PARTICIPANT,
    )
    registration = db.session.get(Registration, outcome.registration_id)
    assert "\n" not in registration.full_name and "\r" not in registration.full_name
    assert registration.full_name == "Eve Bcc: victim@example.com"
    assert registration.organisation == "A B"


def test_raising_capacity_promotes_from_waitlist(ctx: Flask, make_program: Callable[..., int]) -> None:
    program_id = _program(capacity=1, waitlist=True)
    register_participant(program_id, registration_input(email="a@example.com"), actor=PARTICIPANT)
    register_participant(program_id, registration_input(email="b@example.com"), actor=PARTICIPANT)
    import_program(program_data(capacity=2, waitlist=True), actor=Actor.system())
    db.session.expire_all()
    assert _count("confirmed") == 2 and _count("waitlisted") == 0


def _rows_written(registration_id: int) -> dict[str, object]:
    """What registering wrote, without ids and times that differ between runs."""
    registration = db.session.get(Registration, registration_id)
    [email] = db.session.scalars(select(Email).where(Email.registration_id == registration_id))
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.registration_id == registration_id))
    return {
        "registration": (
            registration.email, registration.email_normalized, registration.full_name, registration.country,
            registration.organisation, registration.job_title, registration.language, registration.timezone,
            registration.answers, registration.status, registration.revision, len(registration.token),
            registration.token.startswith(registration.token_selector),
            registration.consent_at == registration.created_at,
            registration.confirmed_at == registration.created_at,
            registration.waitlisted_at == registration.created_at,
        ),
        "email": (
            email.kind, email.dedupe_key.replace(f":{registration_id}:", ":ID:"), email.recipient, email.status,
            email.attempts, email.payload, email.session_id, email.enqueued_at == email.created_at,
            email.message_id.endswith("@rollcall.test>"),
        ),
        "audit": (entry.actor_type, entry.organiser_id, entry.action, entry.program_id, entry.details),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({}, "confirmed"),
        ({"capacity": 1, "waitlist": True}, "waitlisted"),
        ({"approval_required": True}, "pending"),
    ],
)
def test_postgresql_single_statement_writes_what_the_three_statements_write(
    ctx: Flask, make_sqlite_app: Callable[..., Flask], overrides: dict[str, object], status: str
) -> None:
    """On PostgreSQL a newcomer's registration, email and audit entry are written by
    one statement; elsewhere by three. Both write the same rows, for every status a
    newcomer can get, and the outbox row's dedupe key is the one `queue_email` would
    use (so it cannot be promised twice). An empty time zone takes the program's."""
    from webapp.services.outbox import queue_email

    data = registration_input(email="Ayesha.Khan@Example.com", answers={"experience": "Some"}, timezone="")
    seat_taker = registration_input(email="first@example.com")

    def register() -> RegistrationOutcome:
        program_id = _program(**overrides)
        if status == "waitlisted":
            register_participant(program_id, seat_taker, actor=PARTICIPANT)
        return register_participant(program_id, data, actor=PARTICIPANT)

    outcome = register()
    assert outcome.status == status
    on_postgresql = _rows_written(outcome.registration_id)
    registration = db.session.get(Registration, outcome.registration_id)
    assert queue_email(registration, EMAIL_FOR_STATUS[status]) is None
    db.session.rollback()

    with make_sqlite_app().app_context():
        outcome = register()
        on_sqlite = _rows_written(outcome.registration_id)
    assert on_postgresql == on_sqlite
    assert on_postgresql["email"][:2] == (EMAIL_FOR_STATUS[status], f"{EMAIL_FOR_STATUS[status]}:ID:r1")
    assert on_postgresql["registration"][7] == "Asia/Karachi"  # the program's zone


def test_a_token_collision_is_retried_with_a_fresh_token(ctx: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new token that collides with an existing one (as likely as guessing 256 bits,
    but the unique constraint says what happens): the registration still succeeds."""
    import secrets

    from webapp.services.registrations import core

    program_id = _program()
    first = register_participant(program_id, registration_input(email="a@example.com"), actor=PARTICIPANT)
    taken = db.session.get(Registration, first.registration_id).token
    tokens = iter([taken, taken])
    monkeypatch.setattr(core, "new_token", lambda: next(tokens, None) or secrets.token_urlsafe(32))
    second = register_participant(program_id, registration_input(email="b@example.com"), actor=PARTICIPANT)
    assert second.created and second.status == "confirmed"
    assert _count("confirmed") == 2 and len(_emails("confirmation")) == 2
