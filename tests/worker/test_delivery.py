"""Delivering outbox rows over real SMTP (aiosmtpd on loopback)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage

from flask import Flask
from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import SMTPServer, registration_input
from webapp.extensions import db
from webapp.models import Email, ProgramSession, Registration
from webapp.services.audit import Actor
from webapp.services.mailer import deliver_email
from webapp.services.outbox import sweep_outbox
from webapp.services.registrations import cancel_registration, register_participant


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _register(app: Flask, program_id: int, **overrides: object) -> int:
    with app.app_context():
        outcome = register_participant(program_id, registration_input(**overrides), actor=Actor.participant())
        return outcome.registration_id


def _deliver_all(app: Flask) -> list[str]:
    with app.app_context():
        ids = list(db.session.scalars(select(Email.id).order_by(Email.id)))
        return [deliver_email(i) for i in ids]


def test_confirmation_email_has_everything(app: Flask, smtp: SMTPServer, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    registration_id = _register(app, program_id, timezone="Europe/Paris", full_name="Zoë Ålström")
    assert _deliver_all(app) == ["sent"]
    [received] = smtp.handler.messages
    assert received.rcpt_tos == ["ayesha@example.com"]
    message = _parse(received.content)
    assert message["Subject"] == "You are registered: Lithium-ion basics"
    assert message["To"].addresses[0].display_name == "Zoë Ålström"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@rollcall.test>")
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert "https://zoom.us/j/81234567890" in part and "liion6" in part
        assert "http://rollcall.test/r/" in part
        assert "Central European Standard Time" in part  # the registrant's zone
        assert "Pakistan Standard Time" in part  # and the program's
    [ics] = [p for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "PUBLISH"
    calendar = Calendar.from_ical(ics.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    with app.app_context():
        session = db.session.scalar(select(ProgramSession))
        email_row = db.session.scalar(select(Email))
        assert str(event["UID"]) == session.ics_uid
        assert email_row.status == "sent" and email_row.sent_at is not None and email_row.attempts == 1
        assert message["Message-ID"] == email_row.message_id
        assert db.session.get(Registration, registration_id).status == "confirmed"


def test_delivering_twice_sends_once(app: Flask, smtp: SMTPServer, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    _register(app, program_id)
    assert _deliver_all(app) == ["sent"]
    assert _deliver_all(app) == ["skipped"]
    assert len(smtp.handler.messages) == 1


def test_waitlisted_and_pending_emails_carry_no_link(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program(capacity=1, waitlist=True)
    _register(app, program_id, email="seat@example.com")
    _register(app, program_id, email="wait@example.com")
    assert _deliver_all(app) == ["sent", "sent"]
    waitlisted = _parse(next(m.content for m in smtp.handler.messages if m.rcpt_tos == ["wait@example.com"]))
    assert "waiting list" in waitlisted["Subject"]
    assert b"zoom.us" not in waitlisted.as_bytes() and b"liion6" not in waitlisted.as_bytes()
    assert not list(waitlisted.iter_attachments())

    approval_program = make_program(slug="approval", approval_required=True)
    _register(app, approval_program, email="pending@example.com")
    _deliver_all(app)
    pending = _parse(smtp.handler.messages[-1].content)
    assert "awaiting approval" in pending["Subject"] and b"zoom.us" not in pending.as_bytes()


def test_promoted_registrant_gets_the_confirmation(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program(capacity=1, waitlist=True)
    holder = _register(app, program_id, email="seat@example.com")
    _register(app, program_id, email="wait@example.com")
    _deliver_all(app)
    with app.app_context():
        cancel_registration(holder, actor=Actor.participant())
    _deliver_all(app)
    subjects = {m.rcpt_tos[0]: [] for m in smtp.handler.messages}
    for m in smtp.handler.messages:
        subjects[m.rcpt_tos[0]].append(_parse(m.content)["Subject"])
    assert subjects["wait@example.com"][-1] == "You are registered: Lithium-ion basics"
    assert subjects["seat@example.com"][-1] == "Registration cancelled: Lithium-ion basics"
    promoted = _parse(smtp.handler.messages[-1].content)
    assert b"https://zoom.us/j/81234567890" in promoted.as_bytes()


def test_confirmation_for_someone_who_cancelled_since_is_not_sent(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program()
    registration_id = _register(app, program_id)
    with app.app_context():
        cancel_registration(registration_id, actor=Actor.participant())
    assert _deliver_all(app) == ["expired", "sent"]
    [received] = smtp.handler.messages
    assert b"zoom.us" not in received.content


def test_permanent_refusal_is_failed_with_reason(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program()
    smtp.handler.rcpt_replies["ayesha@example.com"] = "550 5.1.1 No such user"
    _register(app, program_id)
    assert _deliver_all(app) == ["failed"]
    with app.app_context():
        row = db.session.scalar(select(Email))
        assert row.status == "failed" and "550" in row.last_error and "No such user" in row.last_error


def test_transient_failure_retries_later_then_sends(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    app.config["MAIL_RETRY_BASE_SECONDS"] = 0.2
    program_id = make_program()
    smtp.handler.rcpt_replies["ayesha@example.com"] = "451 4.3.0 Try again later"
    _register(app, program_id)
    assert _deliver_all(app) == ["retry"]
    with app.app_context():
        row = db.session.scalar(select(Email))
        assert row.status == "pending" and row.next_attempt_at is not None and "451" in row.last_error
    import time

    time.sleep(0.3)
    smtp.handler.rcpt_replies.clear()
    assert _deliver_all(app) == ["sent"]


def test_unreachable_smtp_is_transient(app: Flask, make_program: Callable[..., int]) -> None:
    from tests.conftest import free_port

    app.config["MAIL_PORT"] = free_port()  # nothing listens there
    app.extensions["mail"].port = app.config["MAIL_PORT"]
    program_id = make_program()
    _register(app, program_id)
    assert _deliver_all(app) == ["retry"]
    with app.app_context():
        assert "Connection" in db.session.scalar(select(Email.last_error))


def test_sweep_returns_orphaned_rows_and_enqueues_due_ones(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    _register(app, program_id)
    with app.app_context():
        row = db.session.scalar(select(Email))
        from datetime import UTC, datetime, timedelta

        row.status = "sending"
        row.claimed_at = datetime.now(UTC) - timedelta(hours=1)
        db.session.commit()
        result = sweep_outbox()
        assert result == {"reclaimed": 1, "enqueued": 1}
        db.session.refresh(row)
        assert row.status == "pending" and row.enqueued_at is not None
        # Enqueued a moment ago: the next sweep leaves it to its task.
        assert sweep_outbox() == {"reclaimed": 0, "enqueued": 0}
