"""Certificate emails through the outbox: a real Celery worker renders each PDF from its
certificate's snapshot at sending time and the local SMTP server receives it attached,
the name readable by pdftotext in Latin, Arabic and Chinese script; and an email whose
PDF cannot be made waits, then fails with the reason, never leaving without it."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import SMTPServer, WorkerProcess
from tests.functional.helpers import attended_program, csrf_token, sign_in
from tests.pdf import pdf_text, shows_name
from webapp.extensions import db
from webapp.models import Certificate, Email
from webapp.services.audit import Actor
from webapp.services.certificates.codes import format_code
from webapp.services.certificates.operations import issue_certificates
from webapp.services.mailer import deliver_emails

pdf = pytest.importorskip(
    "webapp.services.certificates.pdf", reason="the PDF renderer (branch wip-certpdf) is not merged"
)

PEOPLE = [
    ("Ayesha Khan", "ayesha@example.com", "en", 100),
    ("علی رضایی", "ali@example.ir", "fa", 95),
    ("李伟", "li@example.cn", "zh", 110),
]


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _certificate_messages(smtp: SMTPServer) -> dict[str, EmailMessage]:
    found = {}
    for received in smtp.handler.messages:
        message = _parse(received.content)
        if any(p.get_content_type() == "application/pdf" for p in message.iter_attachments()):
            found[received.rcpt_tos[0]] = message
    return found


@pytest.mark.worker
def test_each_attendee_receives_their_certificate_as_a_pdf_through_the_worker(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int], celery_worker: WorkerProcess, tmp_path: Path
) -> None:
    program_id = make_program(certificates=True, organiser="ECOSF Training Centre")
    tokens = attended_program(app, program_id, PEOPLE)
    client = sign_in(app, admin=True)
    confirm = client.get(f"/organiser/programs/{program_id}/certificates/send")
    client.post(
        f"/organiser/programs/{program_id}/certificates/send",
        data={"csrf_token": csrf_token(confirm.get_data(as_text=True))},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_certificate_messages(smtp)) < 3:
        time.sleep(0.2)
    messages = _certificate_messages(smtp)
    assert set(messages) == {"ayesha@example.com", "ali@example.ir", "li@example.cn"}, celery_worker.log()
    with app.app_context():
        codes = dict(db.session.execute(select(Certificate.full_name, Certificate.code)).tuples().all())
        assert set(db.session.scalars(select(Email.status).where(Email.kind == "certificate"))) == {"sent"}
    for (name, address, language, _minutes), subject in zip(
        PEOPLE,
        ("Your certificate of attendance: Lithium-ion basics", "گواهی حضور شما", "您的出席证书"),
        strict=True,
    ):
        message = messages[address]
        assert subject in message["Subject"]
        assert message["Content-Language"] == language
        [attachment] = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
        assert attachment.get_filename() == f"certificate-{format_code(codes[name])}.pdf"
        text = pdf_text(attachment.get_payload(decode=True), tmp_path, f"{language}.pdf")
        assert shows_name(text, name), (name, text)
        assert format_code(codes[name]) in text
        body = message.get_body(("plain",)).get_content()
        assert f"http://rollcall.test/verify/{format_code(codes[name])}" in body
        assert f"http://rollcall.test/r/{tokens[address]}" in body
        assert message.get_body(("html",)).get_content().count(format_code(codes[name])) >= 1
    assert "Time attended: 1 hour, 40 minutes" in messages["ayesha@example.com"].get_body(("plain",)).get_content()
    assert "مدت حضور: ۱ ساعت و ۳۵ دقیقه" in messages["ali@example.ir"].get_body(("plain",)).get_content()


def test_an_email_whose_pdf_cannot_be_made_waits_then_fails_with_the_reason(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    program_id = make_program(certificates=True)
    attended_program(app, program_id, PEOPLE[:1])

    def unavailable(content: object) -> bytes:
        raise pdf.CertificateRenderingUnavailable("no font for this script")

    monkeypatch.setattr(pdf, "render_certificate", unavailable)
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    with app.app_context():
        issue_certificates(program_id, actor=Actor.system())
        email_id = db.session.scalar(select(Email.id).where(Email.kind == "certificate"))
        assert deliver_emails([email_id]) == {email_id: "retry"}
        row = db.session.get(Email, email_id, populate_existing=True)
        assert row.status == "pending"
        assert row.last_error == "the certificate PDF could not be made: no font for this script"
        row.next_attempt_at = None
        db.session.commit()
        assert deliver_emails([email_id]) == {email_id: "failed"}
    assert _certificate_messages(smtp) == {} and smtp.handler.messages == []
    page = sign_in(app, admin=True).get(f"/organiser/programs/{program_id}/").get_data(as_text=True)
    assert "Certificate emails: 0 sent, 0 waiting, 1 failed." in page
    assert (
        "Latest problem: gave up after 2 attempts: the certificate PDF could not be made: no font for this script"
        in page
    )
