"""The worker's messages are written by the classic generator (`OutboxMessage`): the
same parts and headers as Flask-Mail's own writing, names and subjects in any script."""

from __future__ import annotations

import email
import email.policy
from email.header import decode_header, make_header

from flask_mail import Message

from webapp import create_app
from webapp.services.composer import OutboxMessage

LONG_NAME = " ".join(["Zoë Ålström 李明"] * 4)  # long enough to fold


def _message() -> OutboxMessage:
    message = OutboxMessage(
        subject="ثبت‌نام شما انجام شد: Li-ion basics — 锂电池基础",
        recipients=[(LONG_NAME, "zoe@example.com")],
        body="Text — متن",
        html="<p>HTML — <b>متن</b></p>",
        sender="Rollcall <noreply@rollcall.localhost>",
        extra_headers={"Auto-Submitted": "auto-generated", "Content-Language": "fa"},
    )
    message.msgId = "<1.2@rollcall.test>"
    message.date = 1_800_000_000
    message.attach(filename="invite.ics", content_type="text/calendar; charset=utf-8; method=PUBLISH", data=b"ICS")
    return message


def test_the_same_message_as_flask_mail_writes_it() -> None:
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", CELERY_BROKER_URL="memory://")
    with app.app_context():
        message = _message()
        ours = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        theirs = email.message_from_bytes(Message.as_bytes(message), policy=email.policy.default)
        raw = message.as_bytes()
    assert [(p.get_content_type(), p.get_filename()) for p in ours.walk()] == [
        (p.get_content_type(), p.get_filename()) for p in theirs.walk()
    ]
    for name in ("Subject", "From", "Message-ID", "Date", "Auto-Submitted", "Content-Language"):
        assert ours[name] == theirs[name], name
    assert ours.get_body(("plain",)).get_content() == theirs.get_body(("plain",)).get_content()
    assert ours.get_body(("html",)).get_content() == theirs.get_body(("html",)).get_content()
    (ics,) = [p for p in ours.walk() if p.get_filename() == "invite.ics"]
    assert ics.get_content() == "ICS" and ics.get_param("method") == "PUBLISH"
    # Encoded words decode to exactly what was written, however long the name.
    parsed = email.message_from_bytes(raw)
    assert str(make_header(decode_header(parsed["To"]))) == f"{LONG_NAME} <zoe@example.com>"
    assert str(make_header(decode_header(parsed["Subject"]))) == "ثبت‌نام شما انجام شد: Li-ion basics — 锂电池基础"
    assert all(len(line) <= 78 for line in raw.split(b"\r\n") if not line.startswith(b"ICS"))
