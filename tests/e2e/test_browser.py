"""End to end in headless Chromium: register for the demo program, then read the email
in /dev/mailbox; the form's errors and the phone layout. (Fixtures: conftest.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import SMTPServer, WorkerProcess
from tests.e2e.conftest import (
    DEMO_TITLE,
    PASSCODE,
    ZOOM_URL,
    LiveServer,
    PageProblems,
    _new_page,
    _open_message,
    _png_size,
)
from webapp.extensions import db
from webapp.models import Registration

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.mark.worker
def test_register_for_the_demo_and_find_the_zoom_link_in_the_mailbox(
    browser: Browser, app: Flask, live_server: LiveServer, demo: str, celery_worker: WorkerProcess, smtp: SMTPServer
) -> None:
    from playwright.sync_api import expect

    problems = PageProblems()
    context, page = _new_page(browser, problems, timezone_id="Europe/Istanbul")
    try:
        # The program page, with the session time also shown in the browser's zone.
        response = page.goto(f"{live_server.url}/programs/{demo}")
        assert response is not None and response.status == 200
        expect(page.get_by_role("heading", level=1)).to_have_text(DEMO_TITLE)
        expect(page.locator(".local-time").first).to_contain_text("Europe/Istanbul")

        page.get_by_role("link", name="Register now").click()
        expect(page).to_have_url(re.compile(rf"/programs/{demo}/register$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Register")

        # The browser's zone is preselected; the emails' language is the page's.
        expect(page.locator("#timezone")).to_have_value("Europe/Istanbul")
        expect(page.locator("#language")).to_have_value("en")

        page.get_by_label("Full name", exact=True).fill("Ayşe Yılmaz")
        page.get_by_label("Email address", exact=True).fill("ayse@example.com")
        page.get_by_label("Country", exact=True).select_option(value="TR")
        page.get_by_label("Organisation", exact=True).fill("İstanbul Enerji A.Ş.")
        page.get_by_label("Job title", exact=True).fill("Mühendis")
        page.get_by_role("checkbox").check()
        expect(page.locator("#timezone")).to_have_value("Europe/Istanbul")

        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Register", exact=True).click()
        assert posted.value.status == 303
        expect(page).to_have_url(re.compile(rf"/programs/{demo}/registered$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
        expect(page.get_by_text("It goes to ayse@example.com.")).to_be_visible()
        assert "zoom.us" not in page.content()
        assert PASSCODE not in page.content()

        # What the form stored: the browser's zone, the non-Latin name intact.
        with app.app_context():
            registration = db.session.scalars(select(Registration)).one()
            assert registration.full_name == "Ayşe Yılmaz"
            assert registration.timezone == "Europe/Istanbul"
            assert registration.country == "TR"
            assert registration.status == "confirmed"

        # The worker sends the confirmation; the mailbox shows it.
        _open_message(page, live_server.url, re.compile(r"You are registered"), celery_worker)
        expect(page.get_by_role("heading", level=1)).to_contain_text("You are registered")
        expect(page.get_by_role("heading", level=1)).to_contain_text(DEMO_TITLE)
        expect(page.locator("dl.details")).to_contain_text("Ayşe Yılmaz")
        expect(page.locator("dl.details")).to_contain_text("ayse@example.com")

        text_part = page.locator("pre.mail-text").first
        expect(text_part).to_contain_text("Dear Ayşe Yılmaz,")
        expect(text_part).to_contain_text(ZOOM_URL)
        expect(text_part).to_contain_text(PASSCODE)

        attachment = page.get_by_role("link", name="invite.ics", exact=True)
        expect(attachment).to_be_visible()
        expect(attachment).to_have_attribute("href", re.compile(r"/attachments/\d+$"))

        # The HTML part is shown too, in its sandboxed frame.
        expect(page.frame_locator("iframe.mail-html").locator("body")).to_contain_text(ZOOM_URL)

        problems.assert_none()
    finally:
        page.close()
        context.close()

    assert len(smtp.handler.messages) == 1, celery_worker.log()


def test_empty_form_shows_errors_by_the_fields_and_the_program_page_fits_a_phone(
    browser: Browser, live_server: LiveServer, demo: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    problems = PageProblems()
    context, page = _new_page(browser, problems, timezone_id="Europe/Istanbul")
    try:
        page.goto(f"{live_server.url}/programs/{demo}/register")
        expect(page.locator("#timezone")).to_have_value("Europe/Istanbul")

        # Submitted empty: the same page again, each error next to its field.
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Register", exact=True).click()
        assert posted.value.status == 200
        page.wait_for_load_state()
        expect(page.locator("#form-error")).to_have_text("Please correct the highlighted fields below.")
        expected = {
            "full_name": "Please enter your name.",
            "email": "Please enter your email address.",
            "country": "Please choose your country.",
            "consent": "Please agree to this so we can register you.",
        }
        for name, message in expected.items():
            error = page.locator(f"#{name}-error")
            expect(error).to_have_text(message)
            # Inside the field's own wrapper, and announced with the input.
            wrapper = page.locator(".field.has-error").filter(has=page.locator(f"#{name}"))
            expect(wrapper.locator(f"#{name}-error")).to_have_count(1)
            expect(page.locator(f"#{name}")).to_have_attribute("aria-invalid", "true")
            expect(page.locator(f"#{name}")).to_have_attribute("aria-describedby", re.compile(rf"\b{name}-error\b"))
        expect(page.locator("#organisation-error")).to_have_count(0)

        # Some values typed, one wrong: what was typed stays, only the rest is flagged.
        page.get_by_label("Full name", exact=True).fill("Ayşe Yılmaz")
        page.get_by_label("Email address", exact=True).fill("not-an-email")
        page.get_by_label("Organisation", exact=True).fill("İstanbul Enerji A.Ş.")
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Register", exact=True).click()
        assert posted.value.status == 200
        page.wait_for_load_state()
        expect(page.locator("#full_name")).to_have_value("Ayşe Yılmaz")
        expect(page.locator("#email")).to_have_value("not-an-email")
        expect(page.locator("#organisation")).to_have_value("İstanbul Enerji A.Ş.")
        expect(page.locator("#timezone")).to_have_value("Europe/Istanbul")
        expect(page.locator("#full_name-error")).to_have_count(0)
        expect(page.locator("#email-error")).to_have_text("Please enter a valid email address, like name@example.com.")
        expect(page.locator("#country-error")).to_be_visible()
        expect(page.locator("#consent-error")).to_be_visible()
        problems.assert_none()
    finally:
        page.close()
        context.close()

    # The program page on a phone: no sideways scrolling, the Register link in view.
    phone_problems = PageProblems()
    context, page = _new_page(
        browser,
        phone_problems,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        response = page.goto(f"{live_server.url}/programs/{demo}")
        assert response is not None and response.status == 200
        register = page.get_by_role("link", name="Register now")
        expect(register).to_be_visible()
        screenshot = tmp_path / "program-phone.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.is_file() and screenshot.stat().st_size > 0
        width, _height = _png_size(screenshot)
        assert width == 390 * 2

        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 390, f"the page scrolls sideways on a phone: scrollWidth={scroll_width}"
        box = register.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        phone_problems.assert_none()
    finally:
        page.close()
        context.close()


def test_other_time_zone_loads_every_zone_in_place_and_registers_with_it(
    browser: Browser, app: Flask, live_server: LiveServer, demo: str
) -> None:
    """The form lists a few zones; "Other time zone…" brings every zone into the same
    list without leaving the page, and what was typed stays."""
    from playwright.sync_api import expect

    problems = PageProblems()
    context, page = _new_page(browser, problems, timezone_id="Europe/Istanbul")
    try:
        page.goto(f"{live_server.url}/programs/{demo}/register")
        zones = page.locator("#timezone")
        expect(zones).to_have_value("Europe/Istanbul")
        short = zones.locator("option").count()
        assert short < 40
        page.get_by_label("Full name", exact=True).fill("Mariana Ríos")
        zones.select_option(label="Other time zone…")
        expect(zones.locator("option[value='America/Argentina/Ushuaia']")).to_have_count(1)
        assert zones.locator("option").count() > 400
        zones.select_option(value="America/Argentina/Ushuaia")
        page.get_by_label("Email address", exact=True).fill("mariana@example.com")
        page.get_by_label("Country", exact=True).select_option(value="AR")
        page.get_by_role("checkbox").check()
        expect(page.locator("#full_name")).to_have_value("Mariana Ríos")
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Register", exact=True).click()
        assert posted.value.status == 303
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
        with app.app_context():
            assert db.session.scalars(select(Registration.timezone)).one() == "America/Argentina/Ushuaia"
        problems.assert_none()
    finally:
        page.close()
        context.close()
