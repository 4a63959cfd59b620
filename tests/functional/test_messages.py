"""Messages to a segment: placeholders, preview for a real recipient, count, sending
through the outbox, delivery progress."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.conftest import SMTPServer, registration_input
from tests.functional.helpers import csrf_token, sign_in
from webapp.extensions import db
from webapp.models import Email, Registration
from webapp.services.audit import Actor
from webapp.services.mailer import deliver_emails
from webapp.services.registrations import register_participant


def _admin(app: Flask) -> FlaskClient:
    return sign_in(app, admin=True)


def _people(app: Flask, program_id: int) -> None:
    with app.app_context():
        for i in range(3):
            register_participant(
                program_id,
                registration_input(email=f"p{i}@example.com", full_name=f"Person {i}"),
                actor=Actor.participant(),
            )
        db.session.execute(
            update(Registration).where(Registration.email == "p0@example.com").values(attended_at=db.func.now())
        )
        db.session.commit()


def test_compose_preview_send_and_progress(app: Flask, smtp: SMTPServer, make_program: Callable[..., int]) -> None:
    program_id = make_program(capacity=2, waitlist=True)
    _people(app, program_id)
    client = _admin(app)
    url = f"/organiser/programs/{program_id}/messages/new"
    page = client.get(url).get_data(as_text=True)
    assert "Confirmed (2)" in page and "On the waiting list (1)" in page and "Confirmed and attended (1)" in page
    data = {
        "csrf_token": csrf_token(page),
        "segment": "confirmed",
        "subject": "Slides for {program}",
        "body": "Dear {name},\n\nJoin here: {join_url}\nYour page: {manage_url}",
        "preview": "1",
    }
    preview = client.post(url, data=data).get_data(as_text=True)
    assert "As Person 0 (p0@example.com) will read it." in preview
    assert "Slides for Lithium-ion basics" in preview and "Dear Person 0," in preview
    assert "https://zoom.us/j/81234567890" in preview and "It will go to 2 people." in preview
    with app.app_context():
        assert db.session.scalar(select(Email.id).where(Email.kind == "message")) is None  # preview sends nothing

    sent = client.post(url, data=data | {"send": "1", "confirm_count": "2"})
    assert sent.status_code == 303
    progress_url = sent.headers["Location"] + "/progress.json"
    assert client.get(progress_url).get_json() == {"pending": 2, "sent": 0, "failed": 0, "expired": 0, "total": 2}
    with app.app_context():
        deliver_emails(list(db.session.scalars(select(Email.id).where(Email.kind == "message"))))
    assert client.get(progress_url).get_json()["sent"] == 2
    assert "data-progress-url" in client.get(sent.headers["Location"]).get_data(as_text=True)
    received = {
        m.rcpt_tos[0]: email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp.handler.messages
    }
    assert sorted(received) == ["p0@example.com", "p1@example.com"]
    message = received["p1@example.com"]
    assert message["Subject"] == "Slides for Lithium-ion basics"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Dear Person 1," in text and "https://zoom.us/j/81234567890" in text and "http://rollcall.test/r/" in text


def test_join_url_only_for_confirmed_and_unknown_placeholders_refused(
    app: Flask, make_program: Callable[..., int]
) -> None:
    program_id = make_program(capacity=2, waitlist=True)
    _people(app, program_id)
    client = _admin(app)
    url = f"/organiser/programs/{program_id}/messages/new"
    token = csrf_token(client.get(url).get_data(as_text=True))
    data = {"csrf_token": token, "segment": "waitlisted", "subject": "News", "body": "Link: {join_url}", "preview": "1"}
    page = client.post(url, data=data).get_data(as_text=True)
    assert "zoom.us" not in page and "sent to confirmed participants" in page
    bad = client.post(url, data=data | {"body": "Hello {firstname}"}).get_data(as_text=True)
    assert "Unknown placeholder {firstname}" in bad
    assert client.post(url, data=data | {"subject": ""}).status_code == 200


def test_another_organisers_messages_are_404(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    client = sign_in(app, "other@example.org")
    for url in (f"/organiser/programs/{program_id}/messages", f"/organiser/programs/{program_id}/messages/new"):
        assert client.get(url).status_code == 404
