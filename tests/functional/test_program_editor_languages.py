"""The program file's problems in the organiser's language: the editor puts each one
beside its field in the language of the console (numbers in the reader's digits, values
from the file as typed), and the command line still speaks English."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import func, select

from tests.conftest import program_data
from tests.functional.helpers import csrf_token, sign_in
from webapp.extensions import db
from webapp.models import Program
from webapp.services.errors import ProgramImportError
from webapp.services.programs import validate_program_data

KARACHI = ZoneInfo("Asia/Karachi")


def _local(value: datetime) -> str:
    return value.astimezone(KARACHI).strftime("%Y-%m-%dT%H:%M")


def _console_in(app: Flask, language: str, email: str = "staff@example.org", admin: bool = False) -> FlaskClient:
    """An organiser signed in whose console is in `language` (chosen once, remembered)."""
    client = sign_in(app, email, admin=admin, name="Staff")
    assert client.get(f"/organiser/?lang={language}").status_code == 200
    return client


def _form(token: str, starts: datetime, **overrides: str) -> dict[str, str]:
    data = {
        "csrf_token": token,
        "title": "Grid storage basics",
        "slug": "grid-storage",
        "timezone": "Asia/Karachi",
        "registration_deadline": _local(starts - timedelta(days=2)),
        "reminders": "24h, 1h",
        "sessions-0-title": "Evening 1",
        "sessions-0-starts_at": _local(starts),
        "sessions-0-ends_at": _local(starts + timedelta(hours=2)),
        "sessions-0-join_url": "https://zoom.us/j/111",
        "save": "1",
    }
    return data | overrides


def _error(page: str, field_id: str) -> str:
    """The text of the error shown beside a field, as a person reads it."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    assert match, f"no error beside {field_id}"
    return html.unescape(match.group(1))


DEADLINE_AFTER_FIRST_SESSION = {
    "en": "Must not be after the first session starts.",
    "fa": "نباید پس از آغاز نخستین جلسه باشد.",
    "zh": "不能晚于第一场的开始时间。",
    "ru": "Не может быть позже начала первого занятия.",
    "tr": "Son kayıt tarihi ilk oturumun başlangıcından sonra olamaz.",
}


@pytest.mark.parametrize("language", sorted(DEADLINE_AFTER_FIRST_SESSION))
def test_a_deadline_after_the_first_session_is_refused_in_the_consoles_language(app: Flask, language: str) -> None:
    client = _console_in(app, language)
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    response = client.post(
        "/organiser/programs/new", data=_form(token, starts, registration_deadline=_local(starts + timedelta(days=1)))
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _error(page, "registration_deadline") == DEADLINE_AFTER_FIRST_SESSION[language]
    if language != "en":
        assert "must not be after" not in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Program.id))) == 0


def test_a_persian_console_writes_numbers_in_persian_digits_and_values_as_typed(app: Flask) -> None:
    client = _console_in(app, "fa")
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    response = client.post(
        "/organiser/programs/new",
        data=_form(
            token,
            starts,
            title="ب" * 250,
            slug="<b>Grid</b>",
            reminders="24h, soon",
            **{"sessions-0-ends_at": _local(starts - timedelta(hours=1)), "sessions-0-join_url": "ftp://zoom.us/j/1"},
        ),
    )
    page = response.get_data(as_text=True)
    assert '<html lang="fa" dir="rtl">' in page
    assert _error(page, "title") == "حداکثر ۲۰۰ نویسه مجاز است (اکنون ۲۵۰ نویسه دارد)."
    # The value from the form, quoted as typed: never markup, never translated.
    assert _error(page, "slug") == "'<b>Grid</b>' فقط می‌تواند حروف کوچک لاتین، رقم و خط تیرهٔ تکی داشته باشد."
    assert "<b>Grid</b>" not in page
    assert _error(page, "reminders") == '\'soon\' فاصلهٔ زمانی‌ای مانند "24h"، "90m" یا "2d" نیست.'
    # A session's problems beside that session's fields.
    assert _error(page, "sessions-0-ends_at") == "باید پس از زمان آغاز باشد."
    assert _error(page, "sessions-0-join_url") == "'ftp://zoom.us/j/1' پیوند http(s) نیست."


def test_a_slug_another_organiser_uses_is_refused_in_chinese_without_naming_their_program(
    app: Flask, make_program: Callable[..., int]
) -> None:
    make_program(slug="taken-slug", title="Closed-door board retreat", organiser="Another Centre")
    client = _console_in(app, "zh")  # assigned to nothing: cannot see that program
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    taken = "'taken-slug' 已被另一个项目使用，请另选一个网址。"

    created = client.post("/organiser/programs/new", data=_form(token, starts, slug="taken-slug"))
    page = created.get_data(as_text=True)
    assert _error(page, "slug") == taken
    for secret in ("Closed-door board retreat", "Another Centre", "li-ion", "published"):
        assert secret not in page

    # Editing their own program, and copying it, to that address: the same words.
    assert client.post("/organiser/programs/new", data=_form(token, starts)).status_code == 303
    with app.app_context():
        mine = db.session.scalar(select(Program.id).where(Program.slug == "grid-storage"))
    edited = client.post(f"/organiser/programs/{mine}/edit", data=_form(token, starts, slug="taken-slug"))
    page = edited.get_data(as_text=True)
    assert _error(page, "slug") == taken
    assert "Closed-door board retreat" not in page
    copied = client.post(
        f"/organiser/programs/{mine}/duplicate",
        data={"csrf_token": token, "slug": "taken-slug", "first_start": _local(starts + timedelta(days=60))},
    )
    page = copied.get_data(as_text=True)
    assert "'taken-slug' 已被另一个项目使用，请另选一个网址" in html.unescape(page)
    assert "Closed-door board retreat" not in page
    with app.app_context():
        assert db.session.scalar(select(Program.title).where(Program.slug == "taken-slug")) == (
            "Closed-door board retreat"
        )
        assert db.session.scalar(select(func.count(Program.id))) == 2


def test_a_whole_translation_problem_is_in_the_consoles_language(app: Flask) -> None:
    client = _console_in(app, "ru")
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    response = client.post(
        "/organiser/programs/new",
        data=_form(token, starts, language="ru", **{"translation_ru-title": "Основы", "translation_zh-title": "储"}),
    )
    page = html.unescape(response.get_data(as_text=True))
    assert "Это язык самой программы (см. «Язык, на котором написана программа»): её текст и есть оригинал." in page
    assert "its text is the original" not in page


def test_the_service_speaks_the_language_it_is_asked_in_and_english_without_a_reader(ctx: Flask) -> None:
    """Messages are made where the problem is found: with no request, English; in a
    language forced as an email is, that language."""
    data = program_data(title="T" * 201, capacity=0)

    def problems() -> list[str]:
        with pytest.raises(ProgramImportError) as excinfo:
            validate_program_data(data)
        return excinfo.value.problems

    assert problems() == [
        "title: must be at most 200 characters (it has 201)",
        "capacity: must be a whole number of at least 1 and at most 1,000,000, or null for unlimited seats",
    ]
    with force_locale("fa"):
        assert problems() == [
            "title: حداکثر ۲۰۰ نویسه مجاز است (اکنون ۲۰۱ نویسه دارد)",
            "capacity: باید عدد صحیحی از ۱ تا ۱٬۰۰۰٬۰۰۰ باشد، یا برای ظرفیت نامحدود خالی (null) بماند",
        ]
    with force_locale("zh"):
        assert problems()[0] == "title: 不能超过 200 个字符（现有 201 个）"


def test_the_command_line_reports_problems_in_english_after_a_persian_console_saved(app: Flask, tmp_path: Path) -> None:
    client = _console_in(app, "fa")
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    persian = client.post(
        "/organiser/programs/new", data=_form(token, starts, registration_deadline=_local(starts + timedelta(days=1)))
    )
    assert _error(persian.get_data(as_text=True), "registration_deadline") == DEADLINE_AFTER_FIRST_SESSION["fa"]

    first = datetime.fromisoformat(program_data()["sessions"][0]["starts_at"])
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(program_data(registration_deadline=(first + timedelta(days=1)).isoformat(), title="T" * 250)),
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(args=["programs", "import", str(bad)])
    assert result.exit_code == 1
    assert "  - title: must be at most 200 characters (it has 250)\n" in result.output
    assert "  - registration_deadline: must not be after the first session starts\n" in result.output
    assert not re.search(r"[\u0600-\u06ff]", result.output)
