"""Public program list and program pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import registration_input, starting_at
from tests.functional.helpers import csrf_token, form_values
from webapp.services.audit import Actor
from webapp.services.registrations import register_participant


def test_list_shows_published_upcoming_first_and_hides_drafts(
    client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(slug="later", title="Later program")
    soon = datetime.now(UTC) + timedelta(days=3)
    make_program(slug="sooner", title="Sooner program", **starting_at(soon, deadline=soon - timedelta(days=1)))
    make_program(slug="secret-draft", title="Draft program", status="draft")
    page = client.get("/").get_data(as_text=True)
    assert page.index("Sooner program") < page.index("Later program")
    assert "Draft program" not in page
    assert client.get("/programs/secret-draft").status_code == 404


def test_program_page_shows_times_deadline_seats_and_never_the_link(
    client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(capacity=300, waitlist=True)
    response = client.get("/programs/li-ion-basics")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Registration open" in page
    assert "300 seats left" in page
    assert "Register by" in page and "left)" in page
    assert "Pakistan" in page and "Asia/Karachi" in page  # the program's zone, named
    assert '<time datetime="' in page and "data-local" in page  # the viewer's zone, via app.js
    assert "zoom.us" not in page and "liion6" not in page
    assert 'href="/programs/li-ion-basics/register"' in page
    assert len(response.data) < 100_000


@pytest.mark.parametrize(
    ("language", "seats"),
    [
        ("en", "1,250 seats left"),
        ("ru", "Осталось 1\xa0250 мест"),
        ("fa", "۱٬۲۵۰ جای خالی"),
        ("zh", "剩余 1,250 个名额"),
    ],
)
def test_seats_left_are_written_as_the_reader_writes_numbers(
    client: FlaskClient, make_program: Callable[..., int], language: str, seats: str
) -> None:
    make_program(capacity=1250)
    page = client.get(f"/programs/li-ion-basics?lang={language}").get_data(as_text=True)
    assert seats in page


def test_markdown_description_is_sanitised(client: FlaskClient, make_program: Callable[..., int]) -> None:
    make_program(description="## Agenda\n<script>alert(1)</script>\n[x](javascript:alert(2)) **bold**")
    page = client.get("/programs/li-ion-basics").get_data(as_text=True)
    assert "<h3>Agenda</h3>" in page and "<strong>bold</strong>" in page
    assert "<script>alert(1)" not in page and "javascript:" not in page


def test_states_full_waitlist_closed_cancelled(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    program_id = make_program(capacity=1, waitlist=True)
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.participant())
    assert "Full: waiting list open" in client.get("/programs/li-ion-basics").get_data(as_text=True)
    make_program(capacity=1, waitlist=False)
    page = client.get("/programs/li-ion-basics").get_data(as_text=True)
    assert "Fully booked" in page and "Register now" not in page
    make_program(status="cancelled")
    assert "This program has been cancelled." in client.get("/programs/li-ion-basics").get_data(as_text=True)
    make_program(status="published", capacity=None)
    form_page = client.get("/programs/li-ion-basics/register").get_data(as_text=True)
    make_program(status="closed")
    page = client.get("/programs/li-ion-basics").get_data(as_text=True)
    assert "Registration for this program is closed." in page and "Register now" not in page
    # Submitting a form rendered before it closed is refused with the reason, values kept.
    data = form_values(email="late@example.com") | {"csrf_token": csrf_token(form_page)}
    body = client.post("/programs/li-ion-basics/register", data=data).get_data(as_text=True)
    assert "Registration for this program is closed." in body and 'value="late@example.com"' in body


def test_closing_soon(client: FlaskClient, make_program: Callable[..., int]) -> None:
    make_program(registration_deadline=(datetime.now(UTC) + timedelta(hours=5)).isoformat())
    assert "Closing soon" in client.get("/programs/li-ion-basics").get_data(as_text=True)


def test_security_headers_and_no_inline_script(client: FlaskClient, make_program: Callable[..., int]) -> None:
    make_program()
    response = client.get("/programs/li-ion-basics")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.get_data(as_text=True)
    assert "<script>" not in page and "onclick" not in page


def test_unknown_pages_are_friendly_404s(client: FlaskClient) -> None:
    response = client.get("/programs/nope")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
