"""Program text in several languages: the program file keeps and writes it back, a copy
carries it, and every page, email and calendar file a participant reads gives them
their language where the organiser translated it; text in another language than the
page's or the email's is marked with its own `lang` and `dir`. The organiser edits it
in the console without moving a time or emailing anyone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import func, select

from tests.conftest import program_data, registration_input
from tests.functional.helpers import sign_in
from webapp.extensions import db
from webapp.models import Email, Program, Registration
from webapp.services.audit import Actor
from webapp.services.composer import build_message
from webapp.services.programs import duplicate_program, get_program, import_program, program_file
from webapp.services.registrations import register_participant

RUSSIAN = {
    "title": "Литий-ионные аккумуляторы: основы",
    "summary": "Короткий курс для предпринимателей.",
    "description": "## Темы\n- элементы\n- батареи",
    "sessions": [{"title": "Вебинар: элементы и батареи"}],
}


def _russian_too(**overrides: Any) -> dict[str, Any]:
    return {"translations": {"ru": RUSSIAN}} | overrides


def _email_to(app: Flask, program_id: int, language: str) -> Any:
    """The confirmation a registrant reading `language` is sent, as it is built."""
    with app.app_context():
        outcome = register_participant(program_id, registration_input(language=language), actor=Actor.participant())
        email = db.session.scalar(select(Email).where(Email.registration_id == outcome.registration_id))
        return build_message(email)


def _calendar_event(ics: bytes) -> Any:
    (event,) = Calendar.from_ical(ics).walk("VEVENT")
    return event


def test_the_program_file_writes_translations_back_and_a_copy_keeps_them(ctx: Flask) -> None:
    program, _ = import_program(program_data(**_russian_too()), actor=Actor.system())
    written = program_file(program)
    assert written["language"] == "en"
    assert written["translations"] == {"ru": RUSSIAN}
    # Round trip: importing what was written changes nothing.
    again, created = import_program(written, actor=Actor.system())
    assert not created and program_file(again)["translations"] == {"ru": RUSSIAN}
    assert again.sessions[0].translations == {"ru": {"title": "Вебинар: элементы и батареи"}}

    copy = duplicate_program(
        program.id,
        slug="li-ion-basics-again",
        first_start=program.first_start + timedelta(days=90),
        actor=Actor.system(),
    )
    copied = program_file(get_program(copy.id))
    assert copied["language"] == "en" and copied["translations"] == {"ru": RUSSIAN}


def test_a_russian_reader_gets_the_russian_text_on_every_page(
    client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(**_russian_too())
    page = client.get("/programs/li-ion-basics?lang=ru").get_data(as_text=True)
    assert '<html lang="ru" dir="ltr">' in page
    # In the page's language: no marks of their own.
    assert "<h1>Литий-ионные аккумуляторы: основы</h1>" in page
    assert '<p class="summary">Короткий курс для предпринимателей.</p>' in page
    assert "<strong>Вебинар: элементы и батареи</strong>" in page
    assert '<section class="description"><h3>Темы</h3>' in page
    assert "Lithium-ion basics" not in page and "Webinar" not in page
    index = client.get("/").get_data(as_text=True)
    assert ">Литий-ионные аккумуляторы: основы</a></h2>" in index and "Короткий курс" in index
    form = client.get("/programs/li-ion-basics/register").get_data(as_text=True)
    assert '<p class="summary">Литий-ионные аккумуляторы: основы</p>' in form
    # Other readers still get the original.
    english = client.get("/programs/li-ion-basics?lang=en").get_data(as_text=True)
    assert "<h1>Lithium-ion basics</h1>" in english and "<strong>Webinar</strong>" in english


def test_a_turkish_page_marks_the_english_title_of_a_program_without_turkish(
    client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(**_russian_too())
    page = client.get("/programs/li-ion-basics?lang=tr").get_data(as_text=True)
    assert '<html lang="tr" dir="ltr">' in page
    assert '<h1 lang="en" dir="ltr">Lithium-ion basics</h1>' in page
    assert '<p class="summary" lang="en" dir="ltr">A short training.</p>' in page
    assert '<strong lang="en" dir="ltr">Webinar</strong>' in page
    assert '<section class="description" lang="en" dir="ltr">' in page
    assert "Kayıt" in page  # the page itself is Turkish
    # Inside a Turkish sentence, the English title is a fragment of its own.
    done = client.get("/programs/li-ion-basics/registered").get_data(as_text=True)
    assert '<span lang="en" dir="ltr">Lithium-ion basics</span>' in done


def test_persian_text_on_an_english_page_is_right_to_left(
    client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(
        language="fa",
        title="باتری‌های لیتیوم‌یون",
        summary="دوره‌ای کوتاه.",
        translations={"ru": {"title": "Литий-ионные аккумуляторы"}},
    )
    page = client.get("/programs/li-ion-basics?lang=en").get_data(as_text=True)
    assert '<h1 lang="fa" dir="rtl">باتری‌های لیتیوم‌یون</h1>' in page
    persian = client.get("/programs/li-ion-basics?lang=fa").get_data(as_text=True)
    assert "<h1>باتری‌های لیتیوم‌یون</h1>" in persian


def test_a_russian_email_and_its_calendar_file_are_in_russian(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program(**_russian_too())
    message = _email_to(app, program_id, "ru")
    assert message.subject == "Вы зарегистрированы: Литий-ионные аккумуляторы: основы"
    assert "Литий-ионные аккумуляторы: основы" in message.body and "* Вебинар: элементы и батареи" in message.body
    assert "Lithium-ion basics" not in message.body and "Webinar" not in message.body
    assert '<h1 style="margin:0 0 16px;font-size:22px;line-height:1.3;">Литий-ионные аккумуляторы: основы</h1>' in (
        message.html
    )
    assert "<strong>Вебинар: элементы и батареи</strong>" in message.html
    event = _calendar_event(message.attachments[0].data)
    assert str(event["SUMMARY"]) == "Литий-ионные аккумуляторы: основы: Вебинар: элементы и батареи"
    assert event["SUMMARY"].params["LANGUAGE"] == "ru"
    description = str(event["DESCRIPTION"])
    assert "Короткий курс для предпринимателей." in description
    assert "Подключиться: https://zoom.us/j/81234567890" in description and "Код доступа: liion6" in description
    assert "Join:" not in description


def test_the_calendar_file_of_each_batch_is_built_per_language(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program(**_russian_too())
    with app.app_context():
        for address, language in (("ru@example.com", "ru"), ("en@example.com", "en")):
            register_participant(
                program_id, registration_input(email=address, language=language), actor=Actor.participant()
            )
        calendars: dict[tuple[Any, ...], bytes] = {}  # one cache for the batch, as the mailer shares it
        russian, english = (build_message(e, calendars) for e in db.session.scalars(select(Email).order_by(Email.id)))
    assert str(_calendar_event(russian.attachments[0].data)["SUMMARY"]).startswith("Литий-ионные")
    english_event = _calendar_event(english.attachments[0].data)
    assert str(english_event["SUMMARY"]) == "Lithium-ion basics: Webinar"
    assert "Join: https://zoom.us/j/81234567890" in str(english_event["DESCRIPTION"])


def test_the_self_service_calendar_download_is_in_the_registrants_language(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    program_id = make_program(**_russian_too())
    with app.app_context():
        outcome = register_participant(program_id, registration_input(language="ru"), actor=Actor.participant())
        registration = db.session.get(Registration, outcome.registration_id)
        token, session_id = registration.token, registration.program.sessions[0].id
    # The page is read in English; the calendar follows the registrant's emails.
    response = client.get(f"/r/{token}/sessions/{session_id}.ics?lang=en")
    event = _calendar_event(response.data)
    assert str(event["SUMMARY"]).startswith("Литий-ионные") and "Подключиться:" in str(event["DESCRIPTION"])
    page = client.get(f"/r/{token}?lang=en").get_data(as_text=True)
    assert '<h1 lang="ru" dir="ltr">' not in page and "<h1>Lithium-ion basics</h1>" in page
    assert client.get(f"/r/{token}?lang=ru").get_data(as_text=True).count("Вебинар: элементы и батареи") == 1


def test_a_persian_email_marks_the_english_title_left_to_right(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    message = _email_to(app, program_id, "fa")
    assert '<html lang="fa" dir="rtl">' in message.html
    assert (
        '<h1 lang="en" dir="ltr" style="margin:0 0 16px;font-size:22px;line-height:1.3;">Lithium-ion basics</h1>'
        in (message.html)
    )
    # Inside the Persian sentence, the title is isolated with its own language.
    assert '<span lang="en" dir="ltr">Lithium-ion basics</span>' in message.html
    assert '<strong lang="en" dir="ltr">Webinar</strong>' in message.html
    assert "Lithium-ion basics" in message.subject


# --- the editor ---------------------------------------------------------------------


class _FormReader(HTMLParser):
    """The values a browser would send for the page's main form (no submit buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") != "submit":
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.values[name] = a.get("value") or "y"
            else:
                self.values[name] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data.removeprefix("\n") if not self.values[self._textarea] else data


def _editor_values(client: FlaskClient, url: str) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(client.get(url).get_data(as_text=True))
    return reader.values | {"save": "1"}


def test_the_editor_saves_translations_and_moves_nothing_and_emails_nobody(
    app: Flask, make_program: Callable[..., int]
) -> None:
    program_id = make_program()
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.participant())
        before = db.session.get(Program, program_id)
        times = [(s.starts_at, s.ends_at, s.ics_uid) for s in before.sessions]
        deadline = before.registration_deadline
        emails = db.session.scalar(select(func.count()).select_from(Email))
    client = sign_in(app, admin=True)
    url = f"/organiser/programs/{program_id}/edit"
    values = _editor_values(client, url)
    assert values["language"] == "en" and values["translation_ru-title"] == ""
    # Beside each translation, the original; on a Persian page, marked as English.
    persian = client.get(url + "?lang=fa").get_data(as_text=True)
    assert 'id="translation_ru-title-hint">متن اصلی: <span lang="en" dir="ltr">Lithium-ion basics</span>' in persian
    client.get(url + "?lang=en")
    response = client.post(
        url,
        data=values
        | {
            "translation_ru-title": "Литий-ионные аккумуляторы: основы",
            "translation_ru-summary": "Короткий курс.",
            "translation_ru-sessions-0-title": "Вебинар",
            "translation_fa-title": "باتری‌های لیتیوم‌یون",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        program = db.session.get(Program, program_id)
        assert program.translations == {
            "ru": {"title": "Литий-ионные аккумуляторы: основы", "summary": "Короткий курс."},
            "fa": {"title": "باتری‌های لیتیوم‌یون"},
        }
        assert program.sessions[0].translations == {"ru": {"title": "Вебинар"}}
        assert [(s.starts_at, s.ends_at, s.ics_uid) for s in program.sessions] == times
        assert program.registration_deadline == deadline and program.title == "Lithium-ion basics"
        assert db.session.scalar(select(func.count()).select_from(Email)) == emails
    # Shown again as stored; emptying a field removes that translation.
    values = _editor_values(client, url)
    assert values["translation_ru-sessions-0-title"] == "Вебинар"
    assert values["translation_fa-title"] == "باتری‌های لیتیوم‌یون"
    assert client.post(url, data=values | {"translation_fa-title": ""}).status_code == 303
    with app.app_context():
        assert set(db.session.get(Program, program_id).translations) == {"ru"}
        assert db.session.scalar(select(func.count()).select_from(Email)) == emails
    page = app.test_client().get("/programs/li-ion-basics?lang=ru").get_data(as_text=True)
    assert "<h1>Литий-ионные аккумуляторы: основы</h1>" in page and "<strong>Вебинар</strong>" in page


def test_the_editor_pairs_translated_titles_with_their_sessions_whatever_the_order(
    app: Flask, make_program: Callable[..., int]
) -> None:
    program_id = make_program()
    client = sign_in(app, admin=True)
    url = f"/organiser/programs/{program_id}/edit"
    values = _editor_values(client, url)
    values = _editor_values_after_adding_a_session(client, url, values)
    # The new session, typed second, starts first.
    first = datetime.fromisoformat(values["sessions-0-starts_at"]) - timedelta(days=1)
    values |= {
        "sessions-1-title": "Warm-up",
        "sessions-1-starts_at": first.strftime("%Y-%m-%dT%H:%M"),
        "sessions-1-ends_at": (first + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "sessions-1-join_url": "https://zoom.us/j/2",
        "translation_tr-sessions-0-title": "Web semineri",
        "translation_tr-sessions-1-title": "Isınma",
    }
    deadline = datetime.fromisoformat(values["registration_deadline"])
    values["registration_deadline"] = min(deadline, first - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(url, data=values).status_code == 303
    with app.app_context():
        program = db.session.get(Program, program_id)
        assert [(s.title, s.translations) for s in program.sessions] == [
            ("Warm-up", {"tr": {"title": "Isınma"}}),
            ("Webinar", {"tr": {"title": "Web semineri"}}),
        ]


def _editor_values_after_adding_a_session(client: FlaskClient, url: str, values: dict[str, str]) -> dict[str, str]:
    response = client.post(url, data=values | {"save": "", "add_session": "1"})
    reader = _FormReader()
    reader.feed(response.get_data(as_text=True))
    assert "translation_tr-sessions-1-title" in reader.values  # every language has a title for it
    return reader.values | {"save": "1"}


def test_the_editor_shows_each_problem_next_to_its_field(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program(**_russian_too())
    client = sign_in(app, admin=True)
    url = f"/organiser/programs/{program_id}/edit"
    values = _editor_values(client, url)
    response = client.post(
        url,
        data=values
        | {
            "translation_zh-title": "长" * 201,
            "translation_zh-sessions-0-title": "场" * 201,
            "language": "ru",  # while a Russian translation is there
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    title_field = page[page.index('<label for="translation_zh-title">') :]
    assert title_field.index("Must be at most 200 characters (it has 201).") < title_field.index(
        'name="translation_zh-title"'
    )
    session_field = page[page.index('<label for="translation_zh-sessions-0-title">') :]
    assert re.match(
        r"<label[^>]*>Title of session 1 \(<span lang=\"zh\" dir=\"ltr\">中文</span>\)</label>\s*"
        r'<p class="hint"[^>]*>Original: (<span [^>]*>)?Webinar(</span>)?</p>\s*'
        r'<p class="error" id="translation_zh-sessions-0-title-error">Must be at most 200 characters',
        session_field,
    )
    assert '<details class="card translation" id="translation-zh" open>' in page
    russian = page[page.index('id="translation-ru"') :]
    assert russian.index("Is the program&#39;s own language") < russian.index('name="translation_ru-title"')
    with app.app_context():
        assert program_file(db.session.get(Program, program_id))["translations"] == {"ru": RUSSIAN}
        assert db.session.get(Program, program_id).language == "en"


def test_a_new_program_starts_in_english_with_every_other_language_to_translate(app: Flask) -> None:
    client = sign_in(app, admin=True)
    page = client.get("/organiser/programs/new?lang=fa").get_data(as_text=True)
    assert re.search(r'<option selected value="en">English</option>|<option value="en" selected>', page)
    assert 'id="translation-en"' not in page
    for code in ("zh", "ru", "tr", "fa"):
        assert f'id="translation-{code}"' in page
    assert 'dir="rtl" id="translation_fa-title" lang="fa"' in page


def test_organiser_messages_name_the_program_in_the_registrants_language(
    app: Flask, make_program: Callable[..., int]
) -> None:
    from webapp.services.messages import fill

    program_id = make_program(**_russian_too())
    with app.app_context():
        outcome = register_participant(program_id, registration_input(language="ru"), actor=Actor.participant())
        registration = db.session.get(Registration, outcome.registration_id)
        assert fill("{program}", registration, registration.program) == "Литий-ионные аккумуляторы: основы"
