"""Changed and cancelled sessions and programs; batches over one SMTP connection."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from functools import partial

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import SMTPServer, program_data, registration_input
from tests.fakes.clock import FakeClock
from webapp.extensions import db
from webapp.models import Email, ProgramSession
from webapp.services import mailer
from webapp.services.audit import Actor
from webapp.services.mailer import deliver_emails
from webapp.services.pacing import Pacer
from webapp.services.programs import import_program
from webapp.services.registrations import register_participant


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _ics(message: EmailMessage) -> Calendar:
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_payload(decode=True))


def _deliver_pending(app: Flask) -> dict[int, str]:
    with app.app_context():
        ids = list(db.session.scalars(select(Email.id).where(Email.status == "pending").order_by(Email.id)))
        return deliver_emails(ids)


def _registrants(app: Flask, program_id: int, statuses: dict[str, int]) -> None:
    with app.app_context():
        for status, count in statuses.items():
            for i in range(count):
                register_participant(
                    program_id, registration_input(email=f"{status}{i}@example.com"), actor=Actor.participant()
                )


def test_changed_session_time_emails_confirmed_with_same_uid_higher_sequence(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program(capacity=2, waitlist=True)
    _registrants(app, program_id, {"seat": 2, "wait": 1})
    _deliver_pending(app)
    with app.app_context():
        session = db.session.scalar(select(ProgramSession))
        uid = session.ics_uid
    smtp.handler.reset()
    data = program_data(capacity=2, waitlist=True)
    data["sessions"][0]["join_url"] = "https://zoom.us/j/55555555555"
    with app.app_context():
        import_program(data, actor=Actor.system())
    _deliver_pending(app)
    recipients = sorted(m.rcpt_tos[0] for m in smtp.handler.messages)
    assert recipients == ["seat0@example.com", "seat1@example.com"]  # not the waiting list
    message = _parse(smtp.handler.messages[0].content)
    assert message["Subject"].startswith("New time or link: Webinar")
    assert b"https://zoom.us/j/55555555555" in message.as_bytes()
    [event] = _ics(message).walk("VEVENT")
    assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 1
    # Importing the same file again changes nothing and emails nobody.
    with app.app_context():
        import_program(data, actor=Actor.system())
    assert _deliver_pending(app) == {}


def test_cancelled_program_emails_everyone_still_registered(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program(capacity=1, waitlist=True)
    _registrants(app, program_id, {"seat": 1, "wait": 2})
    _deliver_pending(app)
    smtp.handler.reset()
    with app.app_context():
        import_program(program_data(capacity=1, waitlist=True, status="cancelled"), actor=Actor.system())
    _deliver_pending(app)
    by_recipient = {m.rcpt_tos[0]: _parse(m.content) for m in smtp.handler.messages}
    assert sorted(by_recipient) == ["seat0@example.com", "wait0@example.com", "wait1@example.com"]
    confirmed = by_recipient["seat0@example.com"]
    assert confirmed["Subject"] == "Cancelled: Lithium-ion basics"
    calendar = _ics(confirmed)
    assert calendar["METHOD"] == "CANCEL"
    assert b"zoom.us" not in confirmed.as_bytes()
    assert not list(by_recipient["wait0@example.com"].iter_attachments())


def test_session_removed_from_the_file_is_cancelled(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    data = program_data()
    second = dict(data["sessions"][0], title="Day 2")
    data["sessions"].append(second)
    with app.app_context():
        program, _ = import_program(data, actor=Actor.system())
        program_id = program.id
    _registrants(app, program_id, {"seat": 1})
    _deliver_pending(app)
    smtp.handler.reset()
    data["sessions"] = [second]
    with app.app_context():
        import_program(data, actor=Actor.system())
        sessions = list(db.session.scalars(select(ProgramSession).order_by(ProgramSession.id)))
        assert sessions[0].cancelled_at is not None and sessions[1].cancelled_at is None
    _deliver_pending(app)
    [message] = [_parse(m.content) for m in smtp.handler.messages]
    assert message["Subject"] == "Cancelled: Webinar"
    assert _ics(message)["METHOD"] == "CANCEL"
    assert "Day 2" in message.get_body(preferencelist=("plain",)).get_content()


def test_a_batch_shares_one_connection_and_respects_the_rate(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    program_id = make_program()
    _registrants(app, program_id, {"p": 12})
    app.config["MAIL_MAX_PER_SECOND"] = 20
    # The batch's pacer runs on a clock that moves only when it sleeps: every interval
    # it waits is recorded, and nothing is timed.
    clock = FakeClock()
    monkeypatch.setattr(mailer, "Pacer", partial(Pacer, clock=clock.now, sleep=clock.sleep))
    outcomes = _deliver_pending(app)
    assert list(outcomes.values()) == ["sent"] * 12
    assert smtp.handler.connections == 1
    # Twelve sends at 20 a second: the first at once, each of the others 1/20 s later.
    assert clock.slept == pytest.approx([1 / 20] * 11)


def test_one_refused_recipient_does_not_stop_the_batch(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program()
    _registrants(app, program_id, {"p": 3})
    smtp.handler.rcpt_replies["p1@example.com"] = "550 5.1.1 Mailbox unavailable"
    outcomes = _deliver_pending(app)
    assert list(outcomes.values()) == ["sent", "failed", "sent"]
    with app.app_context():
        failed = db.session.scalar(select(Email).where(Email.status == "failed"))
        assert failed.recipient == "p1@example.com" and "550" in failed.last_error


def test_server_going_away_returns_the_rest_of_the_batch_to_pending(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program()
    _registrants(app, program_id, {"p": 3})
    smtp.handler.data_reply = "421 4.3.2 Service shutting down"
    outcomes = _deliver_pending(app)
    assert list(outcomes.values()) == ["retry", "retry", "retry"]
    assert smtp.handler.connections == 1
    with app.app_context():
        rows = list(db.session.scalars(select(Email)))
        assert all(r.status == "pending" and r.next_attempt_at is not None for r in rows)
        assert all("421" in (r.last_error or "") for r in rows)


def test_reminder_says_which_session_when_and_how_to_join(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    from datetime import UTC, datetime, timedelta

    from webapp.services.reminders import schedule_due_reminders

    program_id = make_program()
    with app.app_context():
        register_participant(program_id, registration_input(timezone="America/Sao_Paulo"), actor=Actor.participant())
    _deliver_pending(app)  # the confirmation
    smtp.handler.reset()
    with app.app_context():
        session = db.session.scalar(select(ProgramSession))
        uid, starts = session.ics_uid, session.starts_at
        assert schedule_due_reminders(now=starts - timedelta(hours=24))["emails"] == 1
    assert starts > datetime.now(UTC)
    assert list(_deliver_pending(app).values()) == ["sent"]
    message = _parse(smtp.handler.messages[0].content)
    assert message["Subject"].startswith("Reminder: Webinar starts ")
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Brasilia Standard Time" in text and "Pakistan Standard Time" in text
    assert "https://zoom.us/j/81234567890" in text and "liion6" in text
    assert "http://rollcall.test/r/" in text
    [event] = _ics(message).walk("VEVENT")
    assert str(event["UID"]) == uid
