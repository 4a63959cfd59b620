"""Registering in each of the five languages in Chromium, the language chosen with the
menu or by the browser's Accept-Language, and the confirmation email the SMTP server
received in that language (subject, words, direction, times with their zone named).
Screenshots of the Persian and Chinese form, done page and email, on a phone and a
desktop, go to /tmp/shots-a11y for a person to look at; the assertions are about what
the pages and emails say. (Fixtures: conftest.py.)"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from sqlalchemy import select

from tests.conftest import SMTPServer, WorkerProcess
from tests.e2e.conftest import LiveServer, PageProblems, _new_page, axe_problems
from webapp.extensions import db
from webapp.models import Registration
from webapp.services.composer import session_views
from webapp.services.locales import LANGUAGES, own_name
from webapp.services.times import zone_label

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.worker]

SHOTS = Path("/tmp/shots-a11y")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SLUG = "five-languages"
TITLE = "Lithium-ion basics"
# Where each reader's browser is, and what it says about their language.
READERS = {
    "en": ("en-GB", "Europe/London", "GB", "Grace Hopper"),
    "zh": ("zh-CN", "Asia/Shanghai", "CN", "李明"),
    "ru": ("ru-RU", "Europe/Moscow", "RU", "Анна Петрова"),
    "tr": ("tr-TR", "Europe/Istanbul", "TR", "Ayşe Yılmaz"),
    "fa": ("fa-IR", "Asia/Tehran", "IR", "آیدا رضایی"),
}
SHOWN = ("fa", "zh")  # the languages photographed


@pytest.fixture
def program(make_program: Callable[..., int]) -> int:
    return make_program(slug=SLUG, title=TITLE)


def _words(app: Flask, language: str, message: str, **values: str) -> str:
    with app.test_request_context(), force_locale(language):
        return gettext(message, **values)


def _shoot(page: Page, name: str) -> None:
    """A desktop and a phone picture of the page; on the phone nothing may be wider
    than the screen."""
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    width, screen = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= screen, f"{name} is {width}px wide on a {screen}px phone"
    page.set_viewport_size(DESKTOP)


def _fill_and_send(app: Flask, page: Page, language: str, address: str) -> None:
    """On the program page in `language`: open the form, fill it in, send it, and see
    the "check your inbox" page in that language."""
    from playwright.sync_api import expect

    _locale, _zone, country, name = READERS[language]
    page.get_by_role("link", name=_words(app, language, "Register now")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(_words(app, language, "Register"))
    expect(page.locator("#language")).to_have_value(language)  # emails in the page's language
    back = page.get_by_role("link", name=TITLE, exact=True)  # the arrow is not read out...
    expect(back.locator("[aria-hidden=true]")).to_have_text("→" if language == "fa" else "←")  # ...and points back
    page.locator("#full_name").fill(name)
    page.locator("#email").fill(address)
    page.locator("#country").select_option(country)
    page.locator("#consent").check()
    if language in SHOWN and address.startswith("menu"):
        _shoot(page, f"form-{language}")
    with page.expect_navigation():
        page.get_by_role("button", name=_words(app, language, "Register"), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(_words(app, language, "Check your inbox"))
    expect(page.locator("html")).to_have_attribute("lang", language)
    if language in SHOWN and address.startswith("menu"):
        _shoot(page, f"done-{language}")


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "an email without a text or HTML part"
    return text.get_content(), html.get_content()


@pytest.mark.parametrize("choice", ["menu", "accept-language"])
def test_registering_in_each_language_brings_an_email_in_that_language(
    browser: Browser,
    app: Flask,
    live_server: LiveServer,
    program: int,
    celery_worker: WorkerProcess,
    smtp: SMTPServer,
    choice: str,
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    addresses = {language: f"{choice}-{language}@example.com" for language in LANGUAGES}
    problems = PageProblems()
    for language in LANGUAGES:
        browser_locale, zone, _country, _name = READERS[language]
        if choice == "menu":  # an English browser; the reader picks their language
            context, page = _new_page(browser, problems, viewport=DESKTOP, timezone_id=zone)
            page.goto(f"{base}/programs/{SLUG}")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            menu = page.get_by_role("navigation", name="Language")
            menu.get_by_role("link", name=own_name(language), exact=True).click()
        else:  # the browser says which language it reads
            context, page = _new_page(browser, problems, viewport=DESKTOP, timezone_id=zone, locale=browser_locale)
            page.goto(f"{base}/programs/{SLUG}")
        try:
            expect(page.locator("html")).to_have_attribute("lang", language)
            expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "fa" else "ltr")
            _fill_and_send(app, page, language, addresses[language])
        finally:
            context.close()
    problems.assert_none()

    received = smtp.handler.wait_for(len(LANGUAGES), timeout=60)
    assert len(received) == len(LANGUAGES), celery_worker.log()
    by_address = {}
    for item in received:
        message = email.message_from_bytes(item.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        by_address[item.rcpt_tos[0]] = message
    assert set(by_address) == set(addresses.values())

    for language in LANGUAGES:
        _locale, zone, _country, name = READERS[language]
        message = by_address[addresses[language]]
        with app.app_context():
            registration = db.session.scalars(
                select(Registration).where(Registration.email == addresses[language])
            ).one()
            assert registration.language == language
            assert registration.timezone == zone  # the browser's, preselected by the form
            [view] = session_views(registration.program, registration, with_links=True)
        subject = _words(app, language, "You are registered: %(title)s", title=TITLE)
        assert message["Subject"] == subject
        text, html = _parts(message)
        for words in (
            _words(app, language, "Dear %(name)s,", name=name),
            _words(app, language, "Your place in %(title)s is confirmed.", title=TITLE),
            # The times, in the reader's zone, which is named in their language.
            _words(app, language, "Here is how to join. Times are in your time zone, %(zone)s.",
                   zone=zone_label(zone, language)),
            view.span_local,
        ):  # fmt: skip
            assert words in text, f"{language}: {words!r} is not in the text part:\n{text}"
        if language != "en":
            assert "Dear " not in text and "confirmed" not in text, f"English in the {language} email:\n{text}"
        direction = "rtl" if language == "fa" else "ltr"
        assert f'<html lang="{language}" dir="{direction}">' in html
        assert _words(app, language, "Open your registration") in html

        # The HTML part as a mail program shows it: readable (axe-core), and photographed.
        context, page = _new_page(browser, PageProblems(), viewport=DESKTOP)
        try:
            page.set_content(html)
            expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
            expect(page.get_by_text(view.span_local)).to_be_visible()
            found = axe_problems(page)
            assert not found, f"axe-core, the {language} confirmation email:\n" + "\n".join(found)
            if language in SHOWN and choice == "menu":
                _shoot(page, f"email-{language}")
        finally:
            context.close()
