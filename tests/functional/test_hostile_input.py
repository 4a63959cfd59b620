"""Hostile input everywhere a person can type: every route of the app with odd values in
its URL, query string and form, as a participant and as a signed-in organiser. Never a
5xx, nothing half-written; control characters are cleaned before they are stored."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import SMTPServer, program_data, registration_input
from tests.functional.helpers import csrf_token, form_values, register, sign_in
from webapp.extensions import db
from webapp.models import Email, Program, ProgramSession, Registration
from webapp.models import Message as OrganiserMessage
from webapp.services.audit import Actor
from webapp.services.errors import ProgramImportError
from webapp.services.mailer import deliver_email, deliver_emails
from webapp.services.outbox import sweep_outbox
from webapp.services.programs import import_program
from webapp.services.registrations import register_participant

QUESTIONS = [
    {"key": "plans", "label": "Your plans", "type": "long_text"},
    {"key": "sector", "label": "Your sector", "type": "single_choice", "options": ["Grid", "Mobility"]},
    {"key": "topics", "label": "Topics", "type": "multiple_choice", "options": ["Cells", "Packs"]},
    {"key": "role", "label": "Your role", "type": "short_text"},
    {"key": "certificate", "label": "I need a certificate", "type": "checkbox"},
    {"key": "home", "label": "Where is home?", "type": "country"},
]

# Values for anything a person can put in a URL, a query string or a form.
HOSTILE = {
    "NUL": "\x00",
    "NUL inside": "abc\x00def",
    "2^31": str(2**31),
    "2^63": str(2**63),
    "minus one": "-1",
    "zero": "0",
    "twenty digits": "99999999999999999999",
    "superscript digit": "²",
    "Arabic-Indic digits": "١٢٣",
    "unicode": "王小明 Ελένη 🔋",
    "very long": "x" * 5000,
    "control characters": "a\x01\x0b\x1b\x7f\u2028b",
    "CR/LF": "a\r\nb",
    "dots": "../../etc/passwd",
    "date zero": "0001-01-01",
    "date max": "9999-12-31",
    "impossible date": "2026-02-30",
}

_CONVERTER = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")

# The form fields of every form in the app, so a POST reaches past "field missing".
FORM_FIELDS = [
    *form_values(),
    *(f"q_{q['key']}" for q in QUESTIONS),
    "password",
    "beyond_capacity",
    "action",
    "scope",
    "filter",
    "ids",
    "segment",
    "subject",
    "body",
    "send",
    "confirm_count",
    "status",
    "confirm",
    "title",
    "slug",
    "summary",
    "description",
    "organiser",
    "registration_opens_at",
    "registration_deadline",
    "capacity",
    "reminders",
    "sessions-0-title",
    "sessions-0-starts_at",
    "sessions-0-ends_at",
    "sessions-0-join_url",
    "sessions-0-passcode",
    f"sessions-{2**31}-title",
    "questions-0-text",
    "questions-0-kind",
    "questions-0-options",
    "questions-0-key",
    "move_question_up",
    "first_start",
    "save",
]

# Query parameters of the attendee list and its exports.
LIST_PARAMETERS = [
    "q",
    "status",
    "country",
    "registered_from",
    "registered_to",
    "attended",
    "sort",
    "dir",
    "page",
    "per_page",
    "ids",
]


@dataclass
class World:
    program_id: int
    slug: str
    token: str
    registration_id: int
    session_id: int


@pytest.fixture
def world(app: Flask) -> World:
    """A published program with every kind of question, and one registrant."""
    with app.app_context():
        program, _ = import_program(program_data(questions=QUESTIONS), actor=Actor.system())
        outcome = register_participant(program.id, registration_input(), actor=Actor.participant())
        registration = db.session.get(Registration, outcome.registration_id)
        session_id = db.session.scalar(select(ProgramSession.id).where(ProgramSession.program_id == program.id))
        return World(program.id, program.slug, registration.token, registration.id, session_id)


def _valid(world: World, name: str) -> str:
    return {
        "program_id": str(world.program_id),
        "registration_id": str(world.registration_id),
        "message_id": "1",
        "session_id": str(world.session_id),
        "slug": world.slug,
        "token": world.token,
        "filename": "app.css",
    }.get(name, "1")


def _paths(app: Flask, world: World, value: str) -> Iterator[tuple[str, str, set[str]]]:
    """(endpoint, path, methods) for every rule: with every variable valid (so the
    query string and the form reach the view), then with `value` in each variable in
    turn (the others valid)."""
    for rule in app.url_map.iter_rules():
        names = [m.group("name") for m in _CONVERTER.finditer(rule.rule)]
        for hostile_name in [None, *names]:

            def substitute(match: re.Match[str], hostile_name: str | None = hostile_name) -> str:
                name = match.group("name")
                return quote(value if name == hostile_name else _valid(world, name), safe="")

            yield rule.endpoint, _CONVERTER.sub(substitute, rule.rule), set(rule.methods or ())


def _signed_in(app: Flask) -> FlaskClient:
    client = sign_in(app, "boss@example.org", admin=True)
    # The sweep's POSTs go past the CSRF check to reach the views' own handling.
    app.config["WTF_CSRF_ENABLED"] = False
    return client


def _assert_no_5xx(client: FlaskClient, method: str, path: str, **kwargs: object) -> None:
    response = client.open(path, method=method, **kwargs)
    response.close()  # a static file stays open until then
    assert response.status_code < 500, f"{method} {path[:120]!r} answered {response.status_code}"


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_every_route_with_hostile_values_never_answers_5xx(app: Flask, world: World, kind: str) -> None:
    value = HOSTILE[kind]
    organiser = sign_in(app, "boss@example.org", admin=True)
    participant = app.test_client()
    # A valid CSRF token with each client's hostile form, so the POSTs reach the views.
    forms = {
        client: dict.fromkeys(FORM_FIELDS, value) | {"csrf_token": csrf_token(client.get(page).get_data(as_text=True))}
        for client, page in ((organiser, "/organiser/programs/new"), (participant, "/organiser/login"))
    }
    for endpoint, path, methods in _paths(app, world, value):
        if endpoint == "auth.logout":
            continue  # it would end the organiser's session half-way through the sweep
        for client, form in forms.items():
            if "GET" in methods:
                _assert_no_5xx(client, "GET", path)
                _assert_no_5xx(client, "GET", f"{path}?{urlencode(dict.fromkeys(LIST_PARAMETERS, value))}")
            if "POST" in methods:
                _assert_no_5xx(client, "POST", path, data=form)
    _assert_no_5xx(organiser, "POST", "/organiser/logout", data=forms[organiser])


@pytest.mark.parametrize(
    "path",
    [
        "/programs/%00",
        "/programs/li-ion-basics%00",
        "/programs/li-ion-basics/register?x=%00",
        "/organiser/programs/2147483648/",
        "/organiser/programs/9223372036854775808/attendees",
        "/organiser/programs/99999999999999999999/attendees.csv",
    ],
)
def test_odd_urls_answer_400_or_404_with_a_plain_page(app: Flask, world: World, path: str) -> None:
    client = _signed_in(app)
    response = client.get(path)
    assert response.status_code in (400, 404)
    page = response.get_data(as_text=True)
    assert "Please go back" in page or "not found" in page.lower() or "could not find" in page.lower(), page[:500]


def test_a_token_with_a_nul_inside_or_an_id_past_2_31_is_400_or_404(app: Flask, world: World) -> None:
    client = app.test_client()
    assert client.get(f"/r/{world.token[:10]}%00{world.token[10:]}").status_code == 400
    assert client.get(f"/r/{world.token}/sessions/{2**31}.ics").status_code == 404
    assert client.get(f"/r/{world.token}/sessions/{world.session_id}.ics").status_code == 200


def test_nul_in_a_sign_in_email_or_an_answer_is_refused_with_400(app: Flask, world: World) -> None:
    client = app.test_client()
    token = csrf_token(client.get("/organiser/login").get_data(as_text=True))
    response = client.post("/organiser/login", data={"email": "a\x00", "password": "x", "csrf_token": token})
    assert response.status_code == 400
    assert "Please go back, check what you entered and try again." in response.get_data(as_text=True)
    response = register(app.test_client(), world.slug, email="nul@example.com", q_plans="first\x00second")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 1  # nothing half-written


@pytest.mark.parametrize(
    "query",
    [
        "registered_from=0001-01-01",
        "registered_to=9999-12-31",
        "registered_from=0001-01-01&registered_to=0001-01-01",
        f"page={2**63}",
        "page=-5",
        "per_page=0",
        "sort=__class__&dir=sideways",
        "status=%00",
        "country=%E2%80%AE",
    ],
)
def test_attendee_list_and_exports_take_any_filter(app: Flask, world: World, query: str) -> None:
    client = _signed_in(app)
    for suffix in ("attendees", "attendees.csv", "attendees.xlsx"):
        response = client.get(f"/organiser/programs/{world.program_id}/{suffix}?{query}")
        assert response.status_code in (200, 400), (suffix, query, response.status_code)


def test_a_date_filter_out_of_range_is_ignored(app: Flask, world: World) -> None:
    client = _signed_in(app)
    page = client.get(f"/organiser/programs/{world.program_id}/attendees?registered_from=0001-01-01")
    assert page.status_code == 200 and "Ayesha Khan" in page.get_data(as_text=True)


def test_bulk_action_ignores_ids_no_row_can_have(app: Flask, world: World) -> None:
    client = _signed_in(app)
    response = client.post(
        f"/organiser/programs/{world.program_id}/attendees/actions",
        data={"action": "cancel", "scope": "selected", "ids": [str(2**31), "²", "-1", str(world.registration_id)]},
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Registration, world.registration_id).status == "cancelled"


def test_acting_on_everyone_matching_a_hostile_filter_never_fails(app: Flask, world: World) -> None:
    client = _signed_in(app)
    hostile_filter = "q=%00&country=%00&status=%00&registered_from=0001-01-01&registered_to=9999-12-31&page=-1"
    response = client.post(
        f"/organiser/programs/{world.program_id}/attendees/actions",
        data={"action": "resend", "scope": "matching", "filter": hostile_filter},
    )
    assert response.status_code == 303


@pytest.mark.parametrize("kind", ["NUL inside", "unicode", "very long", "control characters"])
def test_hostile_headers_and_cookies_never_answer_5xx(app: Flask, world: World, kind: str) -> None:
    # A header holds no line break; a browser sends no cookie over 4 KB.
    value = HOSTILE[kind].replace("\r", "").replace("\n", "")[:4000]
    client = app.test_client()
    for name in ("session", "rollcall_registered"):
        client.set_cookie(name, value)
    for path in (
        "/",
        f"/programs/{world.slug}",
        f"/programs/{world.slug}/register",
        f"/programs/{world.slug}/registered",
    ):
        response = client.get(path, headers={"Accept-Language": value, "User-Agent": value})
        assert response.status_code < 500, (path, response.status_code)


# --- cleaning what is stored ----------------------------------------------------------

DIRTY = "Line one\x0b\x1b[31m\x7f\u2028line two\r\nthree\tcolumn"


def test_control_characters_are_cleaned_from_every_registration_field(app: Flask, world: World) -> None:
    response = register(
        app.test_client(),
        world.slug,
        email="clean@example.com",
        full_name="Zoë\x0b Å\x1blström",
        organisation="Acme\x85 Ltd\x7f",
        job_title="Chief\u2028Engineer",
        q_plans=DIRTY,
        q_role="lead\x0b engineer",
        q_sector="Grid",
        q_topics=["Cells", "Packs"],
    )
    assert response.status_code == 303
    with app.app_context():
        registration = db.session.scalar(select(Registration).where(Registration.email == "clean@example.com"))
        assert registration.full_name == "Zoë Å lström"
        assert (registration.organisation, registration.job_title) == ("Acme Ltd", "Chief Engineer")
        assert registration.answers["plans"] == "Line one\n[31m\nline two\nthree\tcolumn"
        assert registration.answers["role"] == "lead engineer"
        assert registration.answers["topics"] == ["Cells", "Packs"]


def test_organiser_forms_clean_control_characters(app: Flask, world: World) -> None:
    client = sign_in(app, "boss@example.org", admin=True)
    page = client.get(f"/organiser/programs/{world.program_id}/attendees/new").get_data(as_text=True)
    data = form_values(email="byhand@example.com", full_name="By\x0bHand", organisation="Org\x1b", consent=None)
    data |= {"csrf_token": csrf_token(page)}
    assert client.post(f"/organiser/programs/{world.program_id}/attendees/new", data=data).status_code == 303
    with app.app_context():
        registration = db.session.scalar(select(Registration).where(Registration.email == "byhand@example.com"))
        assert (registration.full_name, registration.organisation) == ("By Hand", "Org")

    url = f"/organiser/programs/{world.program_id}/messages/new"
    data = {
        "csrf_token": csrf_token(client.get(url).get_data(as_text=True)),
        "segment": "confirmed",
        "subject": "Slides\x0b for\r\n{program}",
        "body": "Dear {name},\x0b\x1b\r\nHere.\x7f",
        "send": "1",
        "confirm_count": "2",
    }
    assert client.post(url, data=data).status_code == 303
    with app.app_context():
        message = db.session.scalar(select(OrganiserMessage))
        assert (message.subject, message.body) == ("Slides for {program}", "Dear {name},\n\nHere.")


def test_program_import_cleans_control_characters_from_text(ctx: Flask) -> None:
    program, _ = import_program(
        program_data(
            slug="dirty-text",
            title="Grid\x0b storage",
            description="## Topics\x0b\n- peak\x00 shaving\u2028- more",
            summary="Short\x1b summary",
        ),
        actor=Actor.system(),
    )
    assert program.title == "Grid storage"
    assert program.summary == "Short summary"
    assert program.description == "## Topics\n\n- peak shaving\n- more"


# --- names over the limit ---------------------------------------------------------------

LONG_NAME = "Muhammad " + "A" * 200


def test_a_name_over_200_characters_is_refused_with_a_message_on_the_public_form(app: Flask, world: World) -> None:
    response = register(app.test_client(), world.slug, email="long@example.com", full_name=LONG_NAME)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Please shorten your name to at most 200 characters." in page
    assert 'id="full_name-error"' in page
    # The page carries no maxlength: a browser would cut a pasted name there silently.
    field = re.search(r'<input[^>]*name="full_name"[^>]*>', page)
    assert field and "maxlength" not in field.group(0) and "A" * 200 in field.group(0)
    with app.app_context():
        assert db.session.scalar(select(Registration).where(Registration.email == "long@example.com")) is None


def test_a_name_over_200_characters_is_refused_when_added_by_hand(app: Flask, world: World) -> None:
    client = sign_in(app, "boss@example.org", admin=True)
    page = client.get(f"/organiser/programs/{world.program_id}/attendees/new").get_data(as_text=True)
    data = form_values(email="longhand@example.com", full_name=LONG_NAME, consent=None) | {
        "csrf_token": csrf_token(page)
    }
    response = client.post(f"/organiser/programs/{world.program_id}/attendees/new", data=data)
    assert response.status_code == 200
    assert "Please shorten your name to at most 200 characters." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Registration).where(Registration.email == "longhand@example.com")) is None


# --- links in programs ---------------------------------------------------------------------

BAD_LINKS = [
    "https://zoom.us/j/1\r\nX-Injected: yes",
    "https://zoom.us/j/1\nBEGIN:VEVENT",
    "https://zoom.us/j/1\tx",
    "https://zoom.us/j/1 2",
    "https://zoom.us/j/1\x00",
    "https://zoom.us/j/1\u2028",
]


@pytest.mark.parametrize("link", BAD_LINKS)
def test_a_join_link_with_control_characters_is_refused_by_the_import(ctx: Flask, link: str) -> None:
    data = program_data()
    data["sessions"][0]["join_url"] = link
    with pytest.raises(ProgramImportError) as excinfo:
        import_program(data, actor=Actor.system())
    assert "sessions[1].join_url: must not contain spaces, line breaks or control characters" in (
        excinfo.value.problems
    )
    assert db.session.scalar(select(func.count()).select_from(Program)) == 0


def test_a_join_link_with_a_line_break_is_refused_next_to_its_field_in_the_editor(app: Flask) -> None:
    client = sign_in(app, "boss@example.org", admin=True)
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    response = client.post(
        "/organiser/programs/new",
        data={
            "csrf_token": token,
            "title": "Grid storage basics",
            "slug": "grid-storage",
            "timezone": "UTC",
            "registration_deadline": (starts - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "reminders": "24h",
            "sessions-0-title": "Evening 1",
            "sessions-0-starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
            "sessions-0-ends_at": (starts + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "sessions-0-join_url": "https://zoom.us/j/111\r\nX-Injected: yes",
            "save": "1",
        },
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    error = re.search(r'id="sessions-0-join_url-error">([^<]*)<', page)
    assert error, "no error next to the Zoom link field"
    assert "Must not contain spaces, line breaks or control characters." in error.group(1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Program)) == 0


# --- email addresses our mail cannot reach ----------------------------------------------


def test_an_address_with_non_ascii_before_the_at_is_refused_at_the_form(app: Flask, world: World) -> None:
    response = register(app.test_client(), world.slug, email="josé@example.com")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    error = re.search(r'id="email-error">([^<]*)<', page)
    assert error and "We cannot yet send email to an address with accented or non-Latin letters before" in error.group(
        1
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 1


def test_an_internationalised_domain_is_stored_and_sent_in_ascii(app: Flask, world: World, smtp: SMTPServer) -> None:
    assert register(app.test_client(), world.slug, email="ayesha@bücher.de").status_code == 303
    with app.app_context():
        stored = db.session.scalar(select(Registration.email).where(Registration.email.like("%xn--%")))
        assert stored == "ayesha@xn--bcher-kva.de"
        ids = list(db.session.scalars(select(Email.id).where(Email.recipient == stored)))
        assert [deliver_email(i) for i in ids] == ["sent"]
    assert smtp.handler.messages[-1].rcpt_tos == ["ayesha@xn--bcher-kva.de"]


def test_a_stored_non_ascii_address_fails_once_for_good_and_the_next_email_still_goes(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    program_id = make_program()
    with app.app_context():
        for address in ("josé@example.com", "next@example.com"):  # e.g. from before the form checked
            register_participant(program_id, registration_input(email=address), actor=Actor.participant())
        ids = list(db.session.scalars(select(Email.id).order_by(Email.id)))
        outcomes = deliver_emails(ids)
        assert [outcomes[i] for i in ids] == ["failed", "sent"]
        failed = db.session.get(Email, ids[0])
        assert failed.status == "failed"
        assert "does not offer SMTPUTF8" in (failed.last_error or "")
        sweep_outbox()
        assert db.session.get(Email, ids[0]).status == "failed"  # never retried
        assert deliver_emails([ids[0]]) == {ids[0]: "skipped"}
    assert [m.rcpt_tos for m in smtp.handler.messages] == [["next@example.com"]]


# --- numbers and dates in the program editor ----------------------------------------------


def _editor_form(token: str, **overrides: str) -> dict[str, str]:
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    data = {
        "csrf_token": token,
        "title": "Grid storage basics",
        "slug": "grid-storage",
        "timezone": "America/New_York",
        "registration_deadline": (starts - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "reminders": "24h",
        "sessions-0-title": "Evening 1",
        "sessions-0-starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
        "sessions-0-ends_at": (starts + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "sessions-0-join_url": "https://zoom.us/j/111",
        "save": "1",
    }
    return data | overrides


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("capacity", str(2**31), "Please enter a number of seats from 1 to 1,000,000."),
        ("capacity", str(2**63), "Please enter a number of seats from 1 to 1,000,000."),
        ("registration_deadline", "9999-12-31T23:59", "Must be in the years 2000 to 2999."),
        ("registration_opens_at", "0001-01-01T00:00", "Must be in the years 2000 to 2999."),
        ("sessions-0-starts_at", "9999-12-31T23:00", "Must be in the years 2000 to 2999."),
        ("sessions-0-ends_at", "9999-12-31T23:59", "Must be in the years 2000 to 2999."),
    ],
)
def test_numbers_and_dates_past_what_can_be_stored_are_refused_next_to_their_field(
    app: Flask, field: str, value: str, message: str
) -> None:
    client = sign_in(app, "boss@example.org", admin=True)
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    response = client.post("/organiser/programs/new", data=_editor_form(token, **{field: value}))
    assert response.status_code == 200
    error = re.search(rf'id="{field}-error">([^<]*)<', response.get_data(as_text=True))
    assert error and message in error.group(1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Program)) == 0


@pytest.mark.parametrize("value", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_a_copy_starting_in_a_far_year_is_refused_next_to_its_field(app: Flask, world: World, value: str) -> None:
    client = sign_in(app, "boss@example.org", admin=True)
    url = f"/organiser/programs/{world.program_id}/duplicate"
    token = csrf_token(client.get(url).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, "slug": "copy", "first_start": value})
    assert response.status_code == 200
    assert "Please enter a date in the years 2000 to 2999." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Program)) == 1


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"capacity": 2**31}, "capacity: must be a whole number of at least 1 and at most 1,000,000"),
        ({"registration_deadline": "9999-12-31T23:59:00-05:00"}, "registration_deadline: must be in the years"),
        ({"registration_opens_at": "0001-01-01T00:00:00+05:00"}, "registration_opens_at: must be in the years"),
    ],
)
def test_the_import_refuses_numbers_and_dates_past_what_can_be_stored(
    ctx: Flask, change: dict[str, object], problem: str
) -> None:
    with pytest.raises(ProgramImportError) as excinfo:
        import_program(program_data(**change), actor=Actor.system())
    assert any(p.startswith(problem) for p in excinfo.value.problems), excinfo.value.problems


def _valid_forms(world: World) -> dict[str, tuple[str, dict[str, object]]]:
    """Each form of the app, filled in so that it would succeed."""
    registration = form_values(email="valid@example.com") | {
        "q_plans": "Build a plant",
        "q_sector": "Grid",
        "q_topics": "Cells",
        "q_role": "Engineer",
        "q_certificate": "y",
        "q_home": "PK",
    }
    later = (datetime.now(UTC) + timedelta(days=120)).strftime("%Y-%m-%dT%H:%M")
    return {
        "register": (f"/programs/{world.slug}/register", registration),
        "add by hand": (
            f"/organiser/programs/{world.program_id}/attendees/new",
            form_values(email="hand@example.com", consent=None),
        ),
        "editor": ("/organiser/programs/new", _editor_form("") | {"capacity": "10", "summary": "Short"}),
        "edit": (f"/organiser/programs/{world.program_id}/edit", _editor_form("") | {"slug": world.slug}),
        "duplicate": (f"/organiser/programs/{world.program_id}/duplicate", {"slug": "copy", "first_start": later}),
        "message": (
            f"/organiser/programs/{world.program_id}/messages/new",
            {"segment": "confirmed", "subject": "Hello", "body": "Dear {name}", "preview": "1"},
        ),
        "sign-in": ("/organiser/login", {"email": "boss@example.org", "password": "wrong password"}),
    }


@pytest.mark.parametrize("form_name", ["register", "add by hand", "editor", "edit", "duplicate", "message", "sign-in"])
def test_each_form_with_one_hostile_field_at_a_time_never_answers_5xx(app: Flask, world: World, form_name: str) -> None:
    url, valid = _valid_forms(world)[form_name]
    if form_name in ("register", "sign-in"):
        client = app.test_client()
    else:
        client = sign_in(app, "boss@example.org", admin=True)
    token = csrf_token(client.get(url).get_data(as_text=True))
    for field in valid:
        for kind, value in HOSTILE.items():
            response = client.post(url, data=valid | {field: value, "csrf_token": token})
            assert response.status_code < 500, f"{form_name}: {field}={kind} answered {response.status_code}"


def test_a_line_break_in_the_list_filter_of_an_action_stays_out_of_the_redirect(app: Flask, world: World) -> None:
    client = _signed_in(app)
    response = client.post(
        f"/organiser/programs/{world.program_id}/attendees/actions",
        data={"action": "resend", "scope": "matching", "filter": "status=confirmed\r\nSet-Cookie: x=1"},
    )
    assert response.status_code == 303
    assert not any(c.startswith("x=") for c in response.headers.getlist("Set-Cookie"))
    assert response.headers["Location"].endswith("?status=confirmed%0D%0ASet-Cookie%3A+x%3D1")


@pytest.mark.parametrize("target", ["/organiser/%0D%0ASet-Cookie:x=1", "/%09/evil.example", "/organiser/%00"])
def test_sign_in_with_a_control_character_in_next_goes_to_the_dashboard(app: Flask, target: str) -> None:
    from tests.functional.helpers import ORGANISER_PASSWORD
    from webapp.services.organisers import create_organiser

    with app.app_context():
        create_organiser("boss@example.org", "Boss", ORGANISER_PASSWORD, admin=True)
    client = app.test_client()
    token = csrf_token(client.get("/organiser/login").get_data(as_text=True))
    response = client.post(
        f"/organiser/login?next={target}",
        data={"email": "boss@example.org", "password": ORGANISER_PASSWORD, "csrf_token": token},
    )
    if "%00" in target:
        assert response.status_code == 400  # refused before the sign-in
    else:
        assert response.status_code == 303 and response.headers["Location"] == "/organiser/"
