"""The public registration form, the "check your inbox" page and self-service pages."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import func, select

from tests.conftest import starting_at
from tests.functional.helpers import csrf_token, form_values, register
from webapp.extensions import db
from webapp.models import Email, Program, Registration


def _registration(app: Flask) -> Registration:
    with app.app_context():
        registration = db.session.scalar(select(Registration))
        db.session.expunge_all()
        return registration


def test_register_redirects_to_check_your_inbox_without_the_link(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program()
    response = register(client, "li-ion-basics")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/programs/li-ion-basics/registered")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Check your inbox" in page and "ayesha@example.com" in page
    assert "zoom.us" not in page
    assert _registration(app).status == "confirmed"


def test_check_your_inbox_page_gets_the_address_from_a_short_lived_cookie_of_its_own(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    """The address goes to the "check your inbox" page only: a cookie scoped to that
    path, HttpOnly, SameSite=Lax, ten minutes; the session cookie is not rewritten.
    What the cookie says is shown escaped."""
    make_program()
    response = register(client, "li-ion-basics", email="o'brien+tag@example.com")
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1, cookies
    assert cookies[0].startswith("rollcall_registered=")
    for attribute in ("Path=/programs/li-ion-basics/registered", "HttpOnly", "SameSite=Lax", "Max-Age=600"):
        assert attribute in cookies[0]
    page = client.get("/programs/li-ion-basics/registered").get_data(as_text=True)
    assert "It goes to o&#39;brien+tag@example.com." in page

    client.set_cookie("rollcall_registered", "<script>alert(1)</script>", path="/programs/li-ion-basics/registered")
    page = client.get("/programs/li-ion-basics/registered").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    client.delete_cookie("rollcall_registered", path="/programs/li-ion-basics/registered")
    assert "It goes to" not in client.get("/programs/li-ion-basics/registered").get_data(as_text=True)


def test_errors_appear_next_to_fields_and_values_are_kept(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program()
    response = register(client, "li-ion-basics", email="not-an-email", country="", consent=None, full_name="Zhang Wei")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="email-error">Please enter a valid email address' in page
    assert 'id="country-error">Please choose your country.' in page
    assert 'id="consent-error">Please agree to this' in page
    assert 'aria-invalid="true"' in page
    assert 'value="Zhang Wei"' in page and 'value="not-an-email"' in page
    assert "Please correct the highlighted fields below." in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 0


def test_expired_csrf_token_keeps_every_value_then_succeeds(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program()
    client.get("/programs/li-ion-basics/register")
    data = form_values(full_name="Nilufar Rahimova", organisation="Tashkent Solar")
    data["csrf_token"] = "expired-or-from-another-session"
    response = client.post("/programs/li-ion-basics/register", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "open for a long time" in page
    assert 'value="Nilufar Rahimova"' in page and 'value="Tashkent Solar"' in page
    # The re-rendered form carries a fresh token: pressing Register again works.
    data["csrf_token"] = csrf_token(page)
    assert client.post("/programs/li-ion-basics/register", data=data).status_code == 303


def test_form_left_open_past_the_token_lifetime(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program()
    app.config["WTF_CSRF_TIME_LIMIT"] = 1
    page = client.get("/programs/li-ion-basics/register").get_data(as_text=True)
    data = form_values(full_name="Omar Farooq")
    data["csrf_token"] = csrf_token(page)
    import time

    time.sleep(2)
    response = client.post("/programs/li-ion-basics/register", data=data)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "open for a long time" in body and 'value="Omar Farooq"' in body


def test_deadline_passed_between_render_and_submit(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    deadline = datetime.now(UTC) + timedelta(hours=1)
    starts = deadline + timedelta(days=2)
    program_id = make_program(**starting_at(starts, deadline=deadline))
    page = client.get("/programs/li-ion-basics/register").get_data(as_text=True)
    with app.app_context():  # time passes: by the submit, the deadline is behind us
        db.session.get(Program, program_id).registration_deadline = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    data = form_values()
    data["csrf_token"] = csrf_token(page)
    body = client.post("/programs/li-ion-basics/register", data=data).get_data(as_text=True)
    assert "Registration closed on" in body
    assert "Pakistan Standard Time" in body  # in the program's zone


def test_repeat_registration_shows_the_same_page(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program()
    first = register(client, "li-ion-basics")
    other = app.test_client()
    second = register(other, "li-ion-basics", email="AYESHA@example.com", full_name="Impostor")
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    page_first = client.get(first.headers["Location"]).get_data(as_text=True)
    page_second = other.get(second.headers["Location"]).get_data(as_text=True)
    assert page_first.replace("ayesha@example.com", "X") == page_second.replace("AYESHA@example.com", "X")
    with app.app_context():
        kinds = list(db.session.scalars(select(Email.kind).order_by(Email.id)))
    assert kinds == ["confirmation", "already_registered"]


def test_manage_page_shows_link_only_when_confirmed(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(capacity=1, waitlist=True)
    register(client, "li-ion-basics", email="first@example.com", timezone="America/New_York")
    register(client, "li-ion-basics", email="second@example.com")
    with app.app_context():
        first, second = db.session.scalars(select(Registration).order_by(Registration.id)).all()
        first_token, second_token = first.token, second.token
    confirmed = client.get(f"/r/{first_token}")
    page = confirmed.get_data(as_text=True)
    assert confirmed.headers["Cache-Control"] == "no-store"
    assert confirmed.headers["Referrer-Policy"] == "same-origin"
    assert "https://zoom.us/j/81234567890" in page and "liion6" in page
    assert "Program time" in page  # registrant in New York, program in Karachi
    waitlisted = client.get(f"/r/{second_token}").get_data(as_text=True)
    assert "On the waiting list" in waitlisted
    assert "zoom.us" not in waitlisted and "liion6" not in waitlisted


def test_calendar_download_has_stable_uid(app: Flask, client: FlaskClient, make_program: Callable[..., int]) -> None:
    make_program()
    register(client, "li-ion-basics")
    registration = _registration(app)
    with app.app_context():
        from webapp.models import ProgramSession

        session = db.session.scalar(select(ProgramSession))
        uid, session_id = session.ics_uid, session.id
    response = client.get(f"/r/{registration.token}/sessions/{session_id}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    assert calendar["METHOD"] == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == uid
    assert "https://zoom.us/j/81234567890" in str(event["DESCRIPTION"])
    assert client.get(f"/r/{registration.token}/sessions/999999.ics").status_code == 404


def test_cancel_asks_for_confirmation_then_cancels_and_promotes(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(capacity=1, waitlist=True)
    register(client, "li-ion-basics", email="holder@example.com")
    register(client, "li-ion-basics", email="waiting@example.com")
    with app.app_context():
        holder = db.session.scalar(select(Registration).where(Registration.email == "holder@example.com"))
        token = holder.token
    confirm_page = client.get(f"/r/{token}/cancel")
    assert "Cancel your registration?" in confirm_page.get_data(as_text=True)
    # Without the CSRF token nothing happens.
    assert client.post(f"/r/{token}/cancel", data={}).status_code in (200, 400)
    assert _status(app, "holder@example.com") == "confirmed"
    response = client.post(f"/r/{token}/cancel", data={"csrf_token": csrf_token(confirm_page.get_data(as_text=True))})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your registration is cancelled." in page and "zoom.us" not in page
    assert _status(app, "holder@example.com") == "cancelled"
    assert _status(app, "waiting@example.com") == "confirmed"


def _status(app: Flask, email: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Registration.status).where(Registration.email == email))


@pytest.mark.parametrize("token", ["x" * 43, "short", "a" * 200, "../../etc/passwd", "%00"])
def test_wrong_tokens_are_404(client: FlaskClient, make_program: Callable[..., int], token: str) -> None:
    make_program()
    register(client, "li-ion-basics")
    # A NUL is refused before any lookup (400); any other wrong token is not found.
    assert client.get(f"/r/{token}").status_code == (400 if token == "%00" else 404)


HOSTILE = {
    "empty": "",
    "very long": "Ю" * 5000,
    "non-Latin": "王小明 Ελένη Привет",
    "RTL": "محمد عبد الله \u202ealert",
    "emoji": "🔋⚡️👩🏽‍🔬",
    "HTML": '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "CR/LF": "Name\r\nBcc: victim@example.com\r\n\r\nbody",
    "NUL": "a\x00b",
}


@pytest.mark.parametrize(
    "field", ["full_name", "email", "country", "organisation", "job_title", "language", "timezone"]
)
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_input_never_500_and_is_escaped(
    app: Flask, client: FlaskClient, make_program: Callable[..., int], field: str, kind: str
) -> None:
    make_program()
    value = HOSTILE[kind]
    values = {"email": "hostile@example.com", field: value}
    response = register(client, "li-ion-basics", **values)
    # A NUL is refused for the whole request (400), before anything is stored.
    assert response.status_code in ((400,) if kind == "NUL" else (200, 303)), response.status_code
    body = response.get_data(as_text=True)
    assert "<script>alert" not in body and "<img src=x" not in body
    with app.app_context():
        registration = db.session.scalar(select(Registration))
        if registration is not None:
            for column in ("full_name", "organisation", "job_title", "email"):
                stored = getattr(registration, column)
                assert "\r" not in stored and "\n" not in stored and "\x00" not in stored
            token = registration.token
        else:
            token = None
    if token:
        manage = client.get(f"/r/{token}")
        assert manage.status_code == 200
        page = manage.get_data(as_text=True)
        assert "<script>alert" not in page
        if kind == "HTML" and field in ("full_name", "organisation", "job_title"):
            assert html.escape('<script>alert("x")</script>', quote=False) in page or "&lt;script&gt;" in page


def test_registration_is_rate_limited_with_a_friendly_page(
    pg_url: str, redis_url: str, smtp: object, tmp_path: object, make_program: Callable[..., int]
) -> None:
    from tests.conftest import app_settings
    from webapp import create_app

    make_program()
    settings = app_settings(pg_url, redis_url, smtp, tmp_path) | {  # type: ignore[arg-type]
        "RATELIMIT_ENABLED": True,
        "REGISTRATION_RATE_LIMIT": "2 per minute",
    }
    limited = create_app("testing", **settings)
    try:
        client = limited.test_client()
        codes = [register(client, "li-ion-basics", email=f"r{i}@example.com").status_code for i in range(3)]
        assert codes == [303, 303, 429]
        page = register(client, "li-ion-basics", email="r9@example.com").get_data(as_text=True)
        assert "Too many attempts" in page
        assert client.get("/programs/li-ion-basics").status_code == 200  # reading is never limited
    finally:
        with limited.app_context():
            db.engine.dispose()


def test_with_the_form_program_cached_the_rules_are_still_judged_afresh(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    """Web processes reuse the program row a submission needs for a few seconds
    (FORM_PROGRAM_CACHE_SECONDS). A program closed, unpublished or deleted meanwhile
    is still refused: the registration service reads it again under its lock."""
    from sqlalchemy import text

    app.config["FORM_PROGRAM_CACHE_SECONDS"] = 60
    program_id = make_program()
    page = client.get("/programs/li-ion-basics/register").get_data(as_text=True)
    token = csrf_token(page)
    assert client.post("/programs/li-ion-basics/register", data=form_values(csrf_token=token)).status_code == 303
    assert "li-ion-basics" in app.extensions["form_programs"]  # the row is cached now

    with app.app_context():
        db.session.execute(text("UPDATE programs SET status = 'closed' WHERE id = :id"), {"id": program_id})
        db.session.commit()
    url = "/programs/li-ion-basics/register"
    response = client.post(url, data=form_values(csrf_token=token, email="b@example.com"))
    assert response.status_code == 200 and "closed" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 1

    with app.app_context():
        db.session.execute(text("DELETE FROM programs WHERE id = :id"), {"id": program_id})
        db.session.commit()
    response = client.post(url, data=form_values(csrf_token=token, email="c@example.com"))
    assert response.status_code == 404


@pytest.mark.parametrize("chosen", [None, "", "PK", "Asia/Karachi", "en", "fr", "not-in-the-list", "<script>"])
def test_long_lists_render_exactly_as_wtforms_would(app: Flask, chosen: str | None) -> None:
    """The country, time-zone and language lists reuse options rendered once
    (`ListSelect`); the HTML is the same as WTForms' own, whatever is chosen."""
    from wtforms.widgets import Select

    from webapp.blueprints.registrations.forms import RegistrationForm

    with app.test_request_context("/"):
        for locale in ("en", "fr"):
            form = RegistrationForm(locale=locale, program_timezone="Asia/Karachi")
            for field in (form.country, form.timezone, form.language):
                field.data = chosen
                for _ in range(2):  # rendered, then from the cache
                    assert field.widget(field) == Select()(field)


def test_csrf_token_is_signed_only_when_the_form_is_shown(app: Flask, client: FlaskClient) -> None:
    """A submitted form checks its token as always; it signs a new one only if the page
    is rendered again (Flask-WTF keeps what it signed in `g.csrf_token`)."""
    from flask import g
    from flask_wtf.csrf import validate_csrf

    from webapp.blueprints.registrations.forms import RegistrationForm

    token = csrf_token(_form_page(client))
    cookie = client.get_cookie("session")
    assert cookie is not None
    with app.test_request_context(
        "/programs/x/register",
        method="POST",
        data=form_values(csrf_token=token),
        headers={"Cookie": f"session={cookie.value}"},
    ):
        form = RegistrationForm(locale="en", program_timezone="Asia/Karachi")
        assert form.validate(), form.errors
        assert "csrf_token" not in g
        shown = str(form.csrf_token())
        assert "csrf_token" in g
        new_token = csrf_token(shown)
        validate_csrf(new_token)  # raises if it were not a valid token
    with app.test_request_context("/programs/x/register", method="POST", data=form_values(csrf_token="forged")):
        form = RegistrationForm(locale="en", program_timezone="Asia/Karachi")
        assert not form.validate() and form.csrf_token.errors


def _form_page(client: FlaskClient) -> str:
    from tests.conftest import program_data
    from webapp.services.audit import Actor
    from webapp.services.programs import import_program

    with client.application.app_context():
        import_program(program_data(), actor=Actor.system())
    return client.get("/programs/li-ion-basics/register").get_data(as_text=True)
