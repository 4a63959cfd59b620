"""Organiser sign-in, sign-out and the landing page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.functional.helpers import csrf_token, register
from webapp.services.organisers import create_organiser

PASSWORD = "correct horse battery staple"


@pytest.fixture
def organiser(app: Flask) -> str:
    with app.app_context():
        create_organiser("staff@example.org", "Staff Member", PASSWORD)
    return "staff@example.org"


def _login(client: FlaskClient, email: str, password: str, next_url: str | None = None) -> object:
    page = client.get("/organiser/login").get_data(as_text=True)
    url = "/organiser/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": csrf_token(page)})


def test_dashboard_requires_sign_in(client: FlaskClient) -> None:
    response = client.get("/organiser/")
    assert response.status_code == 302 and "/organiser/login" in response.headers["Location"]


def test_sign_in_shows_programs_with_counts(
    client: FlaskClient, organiser: str, make_program: Callable[..., int]
) -> None:
    program_id = make_program(capacity=10)
    register(client, "li-ion-basics")
    with client.application.app_context():
        from webapp.extensions import db
        from webapp.models import Organiser, Program
        from webapp.services.access import assign_program

        assign_program(db.session.get(Organiser, 1), db.session.get(Program, program_id))
    response = _login(client, organiser, PASSWORD)
    assert response.status_code == 303 and response.headers["Location"].endswith("/organiser/")
    page = client.get("/organiser/").get_data(as_text=True)
    assert "Lithium-ion basics" in page and "Staff Member" in page
    assert "0 sent, 1 waiting, 0 failed" in page


def test_unknown_email_and_wrong_password_get_the_same_answer(client: FlaskClient, organiser: str) -> None:
    wrong_password = _login(client, organiser, "not the password").get_data(as_text=True)
    unknown = _login(client, "nobody@example.org", PASSWORD).get_data(as_text=True)
    message = "That email address and password do not match an organiser account."
    assert message in wrong_password and message in unknown


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/organiser/?tab=x", "/organiser/?tab=x"),
        ("//evil.example", "/organiser/"),
        ("https://evil.example", "/organiser/"),
        ("/\\evil.example", "/organiser/"),
    ],
)
def test_next_only_goes_to_our_own_paths(client: FlaskClient, organiser: str, next_url: str, expected: str) -> None:
    response = _login(client, organiser, PASSWORD, next_url=next_url)
    assert response.headers["Location"] == expected


def test_sign_out_invalidates_the_session_cookie(app: Flask, organiser: str) -> None:
    client = app.test_client()
    _login(client, organiser, PASSWORD)
    stolen = client.get_cookie("session")
    assert stolen is not None
    page = client.get("/organiser/").get_data(as_text=True)
    client.post("/organiser/logout", data={"csrf_token": csrf_token(page)})
    assert client.get("/organiser/").status_code == 302
    # Replaying the old cookie does not sign anybody in.
    replay = app.test_client()
    replay.set_cookie("session", stolen.value)
    assert replay.get("/organiser/").status_code == 302


def test_forms_without_csrf_are_refused(client: FlaskClient, organiser: str) -> None:
    response = client.post("/organiser/login", data={"email": organiser, "password": PASSWORD})
    assert response.status_code == 400
    assert "This page had expired" in response.get_data(as_text=True)
