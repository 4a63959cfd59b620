"""Choosing the language: ?lang= (remembered in a cookie), else Accept-Language, else
English; a menu on every page names each language in its own script; Persian is right
to left, on pages and in emails; a registrant's emails use the language they read the
form in unless they choose another."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import select

from tests.conftest import registration_input
from webapp.extensions import db
from webapp.i18n import LANGUAGE_COOKIE, plural
from webapp.models import Email
from webapp.services.audit import Actor
from webapp.services.composer import build_message
from webapp.services.registrations import register_participant

_HTML = re.compile(r'<html lang="([a-z]+)" dir="(ltr|rtl)">')


def _page_language(client: FlaskClient, url: str, **headers: str) -> tuple[str, str]:
    match = _HTML.search(client.get(url, headers=headers).get_data(as_text=True))
    assert match, "no <html lang dir>"
    return match.group(1), match.group(2)


def test_the_browsers_language_else_english(client: FlaskClient, make_program: Callable[..., int]) -> None:
    make_program()
    assert _page_language(client, "/programs/li-ion-basics") == ("en", "ltr")
    assert _page_language(client, "/programs/li-ion-basics", **{"Accept-Language": "ru-RU,ru;q=0.9"}) == ("ru", "ltr")
    assert _page_language(client, "/", **{"Accept-Language": "fa-IR, en;q=0.5"}) == ("fa", "rtl")
    assert _page_language(client, "/", **{"Accept-Language": "de-DE"}) == ("en", "ltr")


def test_a_choice_wins_and_is_remembered(app: Flask, make_program: Callable[..., int]) -> None:
    make_program()
    client = app.test_client()
    response = client.get("/programs/li-ion-basics?lang=zh", headers={"Accept-Language": "ru"})
    assert response.status_code == 200 and '<html lang="zh" dir="ltr">' in response.get_data(as_text=True)
    cookie = client.get_cookie(LANGUAGE_COOKIE)
    assert cookie is not None and cookie.value == "zh" and cookie.http_only
    assert "Accept-Language" in response.headers["Vary"] and "Cookie" in response.headers["Vary"]
    # Later pages, without ?lang, stay in the chosen language whatever the browser says.
    assert _page_language(client, "/programs/li-ion-basics/register", **{"Accept-Language": "ru"}) == ("zh", "ltr")
    assert _page_language(client, "/?lang=tr") == ("tr", "ltr")
    assert _page_language(client, "/") == ("tr", "ltr")


@pytest.mark.parametrize("value", ["xx", "", "fa\x01", "../../etc", "EN", "z" * 500])
def test_an_unknown_choice_is_ignored(client: FlaskClient, value: str) -> None:
    response = client.get("/", query_string={"lang": value}, headers={"Accept-Language": "tr"})
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert '<html lang="tr" dir="ltr">' in response.get_data(as_text=True)
        assert client.get_cookie(LANGUAGE_COOKIE) is None


def test_every_page_has_a_menu_of_languages_in_their_own_names(
    client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program()
    page = client.get("/programs/li-ion-basics/register?country=PK").get_data(as_text=True)
    menu = page[page.index('<nav class="languages"') :]
    menu = menu[: menu.index("</nav>")]
    for code, name, direction in [
        ("en", "English", "ltr"),
        ("zh", "中文", "ltr"),
        ("ru", "Русский", "ltr"),
        ("tr", "Türkçe", "ltr"),
        ("fa", "فارسی", "rtl"),
    ]:
        url = f"/programs/li-ion-basics/register?country=PK&amp;lang={code}"
        link = f'href="{url}" lang="{code}" hreflang="{code}" dir="{direction}"'
        assert link in menu, code
        assert f">{name}</a>" in menu
    assert 'lang="en" hreflang="en" dir="ltr" aria-current="true"' in menu


@pytest.mark.parametrize("code", ["en", "zh", "ru", "tr", "fa"])
def test_the_email_language_starts_as_the_page_language(
    client: FlaskClient, make_program: Callable[..., int], code: str
) -> None:
    make_program()
    page = client.get(f"/programs/li-ion-basics/register?lang={code}").get_data(as_text=True)
    assert re.search(rf'<option selected value="{code}">|<option value="{code}" selected>', page), code


def test_an_email_to_a_persian_reader_is_right_to_left(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    with app.app_context():
        register_participant(program_id, registration_input(language="fa"), actor=Actor.participant())
        register_participant(
            program_id, registration_input(email="b@example.com", language="ru"), actor=Actor.participant()
        )
        persian, russian = (build_message(e) for e in db.session.scalars(select(Email).order_by(Email.id)))
    assert '<html lang="fa" dir="rtl">' in persian.html and '<div dir="rtl"' in persian.html
    assert '<html lang="ru" dir="ltr">' in russian.html


def test_counts_in_plural_messages_are_written_in_the_readers_digits(app: Flask) -> None:
    """`%(num)d` alone prints ASCII digits; in templates and flash messages the count is
    written as the reader writes numbers, in the plural form its number needs."""
    with app.test_request_context():
        for locale, one, many in (("fa", "۱", "۱٬۲۵۰"), ("en", "1", "1,250"), ("ru", "1", "1\xa0250")):
            with force_locale(locale):
                assert one in plural("%(num)d minute", "%(num)d minutes", 1)
                text = render_template_string('{{ ngettext("%(num)d minute", "%(num)d minutes", n) }}', n=1250)
                assert many in text, (locale, text)
                text = render_template_string('{{ _("%(sent)d sent, %(name)s", sent=n, name=w) }}', n=1250, w="<i>")
                assert text == f"{many} sent, &lt;i&gt;", (locale, text)
        with force_locale("en"):
            assert plural("%(num)d person in %(where)s", "%(num)d people in %(where)s", 2, where="<b>") == (
                "2 people in <b>"
            )
            escaped = render_template_string('{{ ngettext("%(num)d in %(w)s", "%(num)d in %(w)s", 2, w=w) }}', w="<b>")
            assert escaped == "2 in &lt;b&gt;"
