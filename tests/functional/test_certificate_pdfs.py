"""The certificate PDFs in the console and on the self-service page (needs the renderer,
`webapp/services/certificates/pdf.py`): the preview issues nothing and emails nobody;
the download is the registrant's own, never cached."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.functional.helpers import attended_program, sign_in
from tests.pdf import pdf_text, shows_name
from webapp.extensions import db
from webapp.models import Certificate, Email
from webapp.services.audit import Actor
from webapp.services.certificates.codes import format_code
from webapp.services.certificates.operations import issue_certificates

pytest.importorskip("webapp.services.certificates.pdf", reason="the PDF renderer (branch wip-certpdf) is not merged")

PEOPLE = [
    ("李伟", "li@example.cn", "zh", 20),  # did not attend enough: not the preview's
    ("Ayesha Khan", "ayesha@example.com", "en", 100),
    ("علی رضایی", "ali@example.ir", "fa", 95),
]


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Certificate)) or 0,
            db.session.scalar(select(func.count()).select_from(Email).where(Email.kind == "certificate")) or 0,
        )


def test_the_preview_is_the_first_attendees_certificate_and_issues_nothing(
    app: Flask, make_program: Callable[..., int], tmp_path: Path
) -> None:
    program_id = make_program(certificates=True)
    attended_program(app, program_id, PEOPLE)
    client = sign_in(app, admin=True)
    response = client.get(f"/organiser/programs/{program_id}/certificates/preview.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.data.startswith(b"%PDF")
    text = pdf_text(response.data, tmp_path)
    assert shows_name(text, "Ayesha Khan") and "Lithium-ion basics" in text
    assert _counts(app) == (0, 0)


def test_with_nobody_attended_the_preview_shows_a_sample(
    app: Flask, make_program: Callable[..., int], tmp_path: Path
) -> None:
    program_id = make_program(certificates=True)
    attended_program(app, program_id, PEOPLE[:1])
    response = sign_in(app, admin=True).get(f"/organiser/programs/{program_id}/certificates/preview.pdf")
    assert response.status_code == 200
    assert "Sample Name" in pdf_text(response.data, tmp_path)
    assert _counts(app) == (0, 0)


def test_the_registrant_downloads_their_own_certificate(
    app: Flask, make_program: Callable[..., int], tmp_path: Path
) -> None:
    program_id = make_program(certificates=True)
    tokens = attended_program(app, program_id, PEOPLE)
    with app.app_context():
        issue_certificates(program_id, actor=Actor.system())
        code = db.session.scalar(
            select(Certificate.code).join(Certificate.registration).where(Certificate.full_name == "علی رضایی")
        )
    client = app.test_client()
    response = client.get(f"/r/{tokens['ali@example.ir']}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="certificate-{format_code(code)}.pdf"'
    assert response.headers["Cache-Control"] == "private, no-store"
    text = pdf_text(response.data, tmp_path)
    assert shows_name(text, "علی رضایی") and format_code(code) in text
    assert not shows_name(text, "Ayesha Khan")
    assert client.get(f"/r/{tokens['li@example.cn']}/certificate.pdf").status_code == 404
