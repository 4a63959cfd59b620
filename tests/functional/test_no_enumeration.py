"""Rule 3 in every state of a program: whatever address is typed, the response is the
same, so the form never tells who registered (issue 9.8). And a cancelled address that
registers again is renewed only with its owner told, by email, what was typed."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import SMTPServer, registration_input
from tests.functional.helpers import csrf_token, form_values
from webapp.extensions import db
from webapp.models import Email, Registration
from webapp.services.audit import Actor
from webapp.services.mailer import deliver_emails
from webapp.services.registrations import cancel_registration, register_participant

_TOKEN = re.compile(r'value="[^"]{40,}"')


class Browser:
    """A fresh browser that opened the form (while the program still had seats)."""

    def __init__(self, app: Flask, slug: str = "li-ion-basics") -> None:
        self.client = app.test_client()
        self.slug = slug
        self.token = csrf_token(self.client.get(f"/programs/{slug}/register").get_data(as_text=True))

    def submit(self, **overrides: Any) -> tuple[int, str, str]:
        """Post the form; returns status, Location and the page it ends on, with the
        address typed and the CSRF token blanked out."""
        response = self.client.post(
            f"/programs/{self.slug}/register", data=form_values(csrf_token=self.token, **overrides)
        )
        location = response.headers.get("Location", "")
        page = self.client.get(location) if location else response
        body = page.get_data(as_text=True)
        for address in (overrides.get("email", ""), "ayesha@example.com"):
            body = body.replace(address, "ADDRESS") if address else body
        return response.status_code, location, _TOKEN.sub('value="TOKEN"', body)


def _submit(app: Flask, slug: str, **overrides: Any) -> tuple[int, str, str]:
    return Browser(app, slug).submit(**overrides)


@pytest.mark.parametrize(
    ("settings", "existing_status"),
    [
        ({"capacity": 1, "waitlist": False}, "confirmed"),  # full, no waiting list: the case that leaked
        ({"capacity": 1, "waitlist": True}, "confirmed"),
        ({"approval_required": True}, "pending"),
        ({}, "confirmed"),
    ],
)
def test_a_registered_and_a_new_address_see_the_same_response(
    app: Flask, make_program: Callable[..., int], settings: dict[str, Any], existing_status: str
) -> None:
    program_id = make_program(**settings)
    first, second = Browser(app), Browser(app)
    with app.app_context():
        outcome = register_participant(program_id, registration_input(), actor=Actor.participant())
        assert outcome.status == existing_status
    registered = first.submit(email="ayesha@example.com")
    newcomer = second.submit(email="somebody.new@example.com")
    assert registered == newcomer
    if settings.get("capacity") == 1 and not settings.get("waitlist"):
        assert registered[0] == 200
        assert "fully booked" in registered[2] and "emailed its registration details" in registered[2]
        with app.app_context():
            kinds = list(db.session.scalars(select(Email.kind).order_by(Email.id)))
            # the registrant was reminded of their details; the newcomer wrote nothing
            assert kinds == ["confirmation", "already_registered"]
            assert db.session.scalar(select(db.func.count(Registration.id))) == 1


def test_a_cancelled_address_on_a_full_program_sees_what_a_newcomer_sees(
    app: Flask, make_program: Callable[..., int]
) -> None:
    program_id = make_program(capacity=1, waitlist=False)
    one, two = Browser(app), Browser(app)
    with app.app_context():
        first = register_participant(program_id, registration_input(), actor=Actor.participant())
        cancel_registration(first.registration_id, actor=Actor.participant())
        register_participant(program_id, registration_input(email="seat@example.com"), actor=Actor.participant())
    cancelled = one.submit(email="ayesha@example.com")
    newcomer = two.submit(email="somebody.new@example.com")
    assert cancelled == newcomer and "fully booked" in cancelled[2]


def _deliver(app: Flask) -> None:
    with app.app_context():
        deliver_emails(list(db.session.scalars(select(Email.id).where(Email.status == "pending"))))


def test_renewing_a_cancelled_registration_tells_the_owner_what_was_typed(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program()
    with app.app_context():
        first = register_participant(program_id, registration_input(), actor=Actor.participant())
        cancel_registration(first.registration_id, actor=Actor.participant())
    _deliver(app)
    smtp.handler.reset()
    status, _location, _page = _submit(
        app, "li-ion-basics", email="Ayesha@Example.com", full_name="Mallory Impostor", organisation="Evil Corp"
    )
    assert status == 303
    _deliver(app)
    [received] = smtp.handler.messages
    assert received.rcpt_tos == ["Ayesha@example.com"]  # the owner's mailbox (matched case-insensitively)
    message = email.message_from_bytes(received.content, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for body in (text, html):
        assert "You had cancelled this registration. It was renewed through the registration form" in body
        assert "Mallory Impostor" in body and "Evil Corp" in body
        assert "If this was not you, cancel it with the personal link" in body


def test_a_plain_registration_does_not_say_renewed(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    make_program()
    assert _submit(app, "li-ion-basics")[0] == 303
    _deliver(app)
    [received] = smtp.handler.messages
    assert b"renewed" not in received.content


def _calendar_of(raw: bytes) -> Calendar | None:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]  # type: ignore[attr-defined]
    return Calendar.from_ical(parts[0].get_payload(decode=True)) if parts else None


def test_the_cancellation_email_takes_the_sessions_out_of_the_calendar(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program(capacity=1, waitlist=True)
    with app.app_context():
        seat = register_participant(program_id, registration_input(), actor=Actor.participant())
        waiting = register_participant(program_id, registration_input(email="w@example.com"), actor=Actor.participant())
    _deliver(app)
    invite = _calendar_of(smtp.handler.messages[0].content)
    assert invite is not None and invite["METHOD"] == "PUBLISH"
    [published] = invite.walk("VEVENT")
    smtp.handler.reset()
    with app.app_context():
        cancel_registration(seat.registration_id, actor=Actor.participant())  # promotes w@ (gets PUBLISH)
        cancel_registration(waiting.registration_id, actor=Actor.participant())  # w@ was confirmed by then
    _deliver(app)
    cancellations = [m for m in smtp.handler.messages if b"Registration cancelled" in m.content]
    assert len(cancellations) == 2
    for received in cancellations:
        calendar = _calendar_of(received.content)
        assert calendar is not None and calendar["METHOD"] == "CANCEL"
        [event] = calendar.walk("VEVENT")
        assert str(event["UID"]) == str(published["UID"])
        assert int(event["SEQUENCE"]) > int(published["SEQUENCE"]) and str(event["STATUS"]) == "CANCELLED"
        assert "URL" not in event and "LOCATION" not in event  # no link in a cancellation


def test_a_waitlisted_registrant_who_cancels_gets_no_calendar(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program(capacity=1, waitlist=True)
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.participant())
        waiting = register_participant(program_id, registration_input(email="w@example.com"), actor=Actor.participant())
        cancel_registration(waiting.registration_id, actor=Actor.participant())
    _deliver(app)
    [cancelled] = [m for m in smtp.handler.messages if b"Registration cancelled" in m.content]
    assert _calendar_of(cancelled.content) is None
