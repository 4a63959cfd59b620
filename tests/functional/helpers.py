"""Helpers for driving forms through the test client."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PARTICIPANT

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def form_values(**overrides: Any) -> dict[str, Any]:
    """The form fields for `PARTICIPANT`; an override of None leaves a field out."""
    values = PARTICIPANT | {"consent": "y"} | overrides
    return {k: v for k, v in values.items() if v is not None}


def register(client: FlaskClient, slug: str, **overrides: Any) -> Any:
    page = client.get(f"/programs/{slug}/register")
    assert page.status_code == 200
    data = form_values(**overrides)
    data["csrf_token"] = csrf_token(page.get_data(as_text=True))
    return client.post(f"/programs/{slug}/register", data=data)


ORGANISER_PASSWORD = "a long enough password"


def sign_in(
    app: Flask, email: str = "boss@example.org", *, admin: bool = False, name: str | None = None
) -> FlaskClient:
    """Create an organiser account and return a client signed in as them."""
    from webapp.services.organisers import create_organiser

    with app.app_context():
        create_organiser(email, name or email.split("@")[0].title(), ORGANISER_PASSWORD, admin=admin)
    client = app.test_client()
    token = csrf_token(client.get("/organiser/login").get_data(as_text=True))
    response = client.post(
        "/organiser/login", data={"email": email, "password": ORGANISER_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, "sign-in failed"
    return client


def attended_program(app: Flask, program_id: int, people: list[tuple[str, str, str, int | None]]) -> dict[str, str]:
    """Register `people` (name, email, language, minutes in the session or None for
    none recorded) in the program, then move its one session to have ended an hour ago
    (two hours long) and record their minutes. Returns each email's self-service token."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from tests.conftest import registration_input
    from webapp.extensions import db
    from webapp.models import Attendance, ProgramSession, Registration, utcnow
    from webapp.services.audit import Actor
    from webapp.services.registrations import register_participant

    tokens: dict[str, str] = {}
    with app.app_context():
        for name, email, language, _minutes in people:
            register_participant(
                program_id,
                registration_input(email=email, full_name=name, language=language),
                actor=Actor.participant(),
            )
        now = utcnow()
        session_id = db.session.scalar(select(ProgramSession.id).where(ProgramSession.program_id == program_id))
        db.session.execute(
            update(ProgramSession)
            .where(ProgramSession.id == session_id)
            .values(starts_at=now - timedelta(hours=3), ends_at=now - timedelta(hours=1))
        )
        for _name, email, _language, minutes in people:
            registration = db.session.scalar(select(Registration).where(Registration.email == email))
            tokens[email] = registration.token
            if minutes is not None:
                db.session.add(
                    Attendance(registration_id=registration.id, session_id=session_id, minutes=minutes, source="csv")
                )
        db.session.commit()
    return tokens
