"""Pages as people see them in Chromium, on a phone (375 px) and a desktop: nothing wider
than the screen, the error summary takes focus, choice questions are grouped, organiser
pages offer what applies and say it in words. Screenshots go to /tmp/rollcall-shots for
a person to look at; the assertions are about what the page does."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from sqlalchemy import select

from tests.conftest import SMTPServer, registration_input
from tests.e2e.conftest import QUESTIONS, LiveServer, PageProblems, _new_page, sign_in_in_browser
from tests.functional.helpers import ORGANISER_PASSWORD
from webapp.extensions import db
from webapp.models import Email
from webapp.services.audit import Actor
from webapp.services.mailer import deliver_emails
from webapp.services.organisers import create_organiser
from webapp.services.registrations import apply_action, register_participant

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/rollcall-shots")
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
LONG_NAME = "Wolfeschlegelsteinhausenbergerdorff" * 5 + "Muhammad" * 3  # 199 characters, no break


def _fits(page: Page) -> tuple[int, int]:
    """(document width, viewport width): the page must not scroll sideways."""
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def program_with_people(app: Flask, make_program: Callable[..., int], smtp: SMTPServer) -> Iterator[int]:
    """A Karachi program with choice questions, an organiser, a registrant with a
    200-character name (confirmed, marked attended, in Persian) and one waiting
    for approval; their emails are delivered to the mailbox."""
    program_id = make_program(timezone="Asia/Karachi", questions=QUESTIONS, approval_required=True)
    answers = {"track": "Grid storage", "topics": ["Safety"]}
    with app.app_context():
        organiser = create_organiser("boss@example.org", "Boss", ORGANISER_PASSWORD, admin=True)
        long = register_participant(
            program_id,
            registration_input(full_name=LONG_NAME, language="fa", timezone="America/St_Johns", answers=answers),
            actor=Actor.participant(),
        )
        register_participant(
            program_id, registration_input(email="waiting@example.com", answers=answers), actor=Actor.participant()
        )
        actor = Actor.organiser(organiser.id)
        apply_action(program_id, [long.registration_id], "approve", actor=actor)
        apply_action(program_id, [long.registration_id], "mark_attended", actor=actor)
        smtp.handler.maildir = app.config["DEV_MAILBOX_DIR"]
        ids = list(db.session.scalars(select(Email.id).order_by(Email.id)))
        deliver_emails(ids)
    yield program_id


VIEWS: list[tuple[str, dict[str, Any]]] = [
    ("phone-stjohns-fa", {"viewport": PHONE, "timezone_id": "America/St_Johns"}),
    ("desktop-shanghai", {"viewport": DESKTOP, "timezone_id": "Asia/Shanghai"}),
]


@pytest.mark.parametrize(("view", "options"), VIEWS, ids=[v for v, _ in VIEWS])
def test_organiser_pages_fit_the_screen_and_say_things_in_words(
    browser: Browser, app: Flask, live_server: LiveServer, program_with_people: int, view: str, options: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    base, program_id = live_server.url, program_with_people
    problems = PageProblems()
    context, page = _new_page(browser, problems, **options)
    try:
        sign_in_in_browser(page, base)
        persian = "fa" in view
        if persian:  # the organiser's choice, remembered for every page below
            page.goto(f"{base}/organiser/?lang=fa")
        pages = {
            "attendees": f"{base}/organiser/programs/{program_id}/attendees",
            "detail": f"{base}/organiser/programs/{program_id}/attendees/1",
            "overview": f"{base}/organiser/programs/{program_id}/",
            "editor": f"{base}/organiser/programs/{program_id}/edit",
            "add": f"{base}/organiser/programs/{program_id}/attendees/new",
            "dashboard": f"{base}/organiser/",
            "mailbox": f"{base}/dev/mailbox/",
        }
        for name, url in pages.items():
            page.goto(url)
            _shot(page, f"{name}-{view}")
            width, viewport = _fits(page)
            assert width <= viewport, f"{name} is {width}px wide on a {viewport}px screen"
            # Signing out is on every organiser page; Persian pages read right to left.
            expect(page.locator("header.site form[action$='/logout'] button")).to_be_visible()
            expect(page.locator("html")).to_have_attribute("dir", "rtl" if persian else "ltr")
        page.goto(f"{base}/organiser/?lang=en")  # the words below are checked in English

        page.goto(pages["attendees"])
        expect(page.get_by_role("link", name=LONG_NAME)).to_be_visible()
        country = page.locator("select#country")
        expect(country.locator("option", has_text="Pakistan")).to_have_attribute("value", "PK")
        country.select_option(label="Pakistan")
        page.get_by_role("button", name="Filter").click()
        expect(page.get_by_text("Page 1 of 1 · 2 registrants")).to_be_visible()
        actions = page.locator("select[name=action] option")
        expect(actions).to_contain_text(["Approve", "Reject"])  # someone awaits approval
        expect(page.locator("select[name=action] option[value=promote]")).to_have_count(0)  # nobody waits

        page.goto(pages["detail"])
        history = page.locator(".history")
        expect(history).to_contain_text("Registered")
        expect(history).to_contain_text("Approved — Boss")
        expect(history).to_contain_text("Marked as attended — Boss")
        expect(history).not_to_contain_text("registration.")
        expect(page.locator(".details")).to_contain_text("Persian")
        emails = page.locator("table").filter(has_text="Attempts")
        expect(emails).to_contain_text("Confirmation with the link")
        expect(emails).not_to_contain_text("confirmation")
        offered = page.locator("select[name=action] option")
        # Confirmed and attended: no "Approve", no "Mark as attended" (approval programs
        # may still reject).
        expect(offered).to_have_text(["Reject", "Cancel registration", "Resend their email", "Mark as not attended"])

        page.goto(pages["overview"])
        cancel_box = page.get_by_role("form", name="Cancel the program")
        expect(cancel_box.get_by_label("Email everyone registered")).to_be_visible()
        expect(cancel_box.get_by_role("button", name="Cancel the program")).to_be_visible()
        problems.assert_none()
    finally:
        context.close()


@pytest.mark.parametrize(("view", "options"), VIEWS, ids=[v for v, _ in VIEWS])
def test_the_html_email_and_the_mailbox_fit_a_phone(
    browser: Browser, app: Flask, live_server: LiveServer, program_with_people: int, view: str, options: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    problems = PageProblems()
    headers = {"Accept-Language": "fa"} if "fa" in view else {}
    context, page = _new_page(browser, problems, extra_http_headers=headers, **options)
    try:
        # The registrant reads Persian: their confirmation is in Persian, whatever the viewer reads.
        with app.test_request_context(), force_locale("fa"):
            subject = gettext("You are registered: %(title)s", title="Lithium-ion basics")
            open_label = gettext("Open your registration")
        assert subject != "You are registered: Lithium-ion basics"
        page.goto(f"{live_server.url}/dev/mailbox/")
        page.locator("table.mailbox").get_by_role("link", name=subject).click()
        page.wait_for_load_state()
        _shot(page, f"mail-message-{view}")
        width, viewport = _fits(page)
        assert width <= viewport, f"the message page is {width}px wide on a {viewport}px screen"
        html_url = page.locator("iframe.mail-html").get_attribute("src")
        page.goto(f"{live_server.url}{html_url}")
        _shot(page, f"mail-html-{view}")
        width, viewport = _fits(page)
        assert width <= viewport, f"the HTML email is {width}px wide on a {viewport}px screen"
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        link = page.get_by_role("link", name=open_label)
        expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(live_server.url)}/r/\S+$"))
        expect(page.get_by_text(link.get_attribute("href") or "-")).to_be_visible()  # also written out, wrapped

        # The registrant's own page, with their 200-character name, fits too.
        page.goto(link.get_attribute("href") or "")
        expect(page.get_by_text(LONG_NAME).first).to_be_visible()
        _shot(page, f"self-service-{view}")
        width, viewport = _fits(page)
        assert width <= viewport, f"the self-service page is {width}px wide on a {viewport}px screen"
        page.goto(f"{live_server.url}/programs/li-ion-basics")
        _shot(page, f"program-{view}")
        width, viewport = _fits(page)
        assert width <= viewport, f"the program page is {width}px wide on a {viewport}px screen"
        problems.assert_none()
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_after_a_failed_submit_focus_is_on_the_summary_whose_links_reach_each_field(
    browser: Browser, app: Flask, live_server: LiveServer, program_with_people: int, javascript: bool
) -> None:
    from playwright.sync_api import expect

    problems = PageProblems()
    context, page = _new_page(
        browser, problems, viewport=PHONE, timezone_id="Asia/Shanghai", java_script_enabled=javascript
    )
    try:
        page.goto(f"{live_server.url}/programs/li-ion-basics/register")
        # Required fields are marked, explained, and say so to assistive technology.
        expect(page.get_by_text("Fields marked with an asterisk (*) are required.")).to_be_visible()
        for field_id in ("full_name", "email", "country"):
            expect(page.locator(f"label[for={field_id}] + .required-mark")).to_have_text("*")
            expect(page.locator(f"#{field_id}")).to_have_attribute("aria-required", "true")
            expect(page.locator(f"#{field_id}")).to_have_attribute("required", "")
        expect(page.locator("label[for=organisation] + .required-mark")).to_have_count(0)

        # Choice questions: a group named by its legend, each option beside its label.
        track = page.get_by_role("group", name="Which track will you follow?")
        expect(track.get_by_role("radio")).to_have_count(3)
        expect(page.get_by_role("group", name="Topics you want covered").get_by_role("checkbox")).to_have_count(2)
        if javascript:
            expect(page.locator("#timezone")).to_have_value("Asia/Shanghai")
        _shot(page, f"register-form-{'js' if javascript else 'nojs'}-phone")

        page.get_by_label("Email address").fill("not-an-email")
        page.get_by_role("button", name="Register", exact=True).click()
        page.wait_for_load_state()
        summary = page.locator("#error-summary")
        expect(summary).to_be_visible()
        expect(summary).to_be_focused()
        assert page.evaluate("document.activeElement.id") == "error-summary"
        _shot(page, f"register-errors-{'js' if javascript else 'nojs'}-phone")
        links = summary.get_by_role("link")
        # In the order the page asks, each naming its field.
        expect(links).to_have_text(
            [
                "Full name — Please enter your name.",
                "Email address — Please enter a valid email address, like name@example.com.",
                "Country — Please choose your country.",
                "Which track will you follow? — Please answer this question.",
                "Please agree to this so we can register you.",
            ]
        )
        for href in [links.nth(i).get_attribute("href") for i in range(links.count())]:
            assert href and href.startswith("#")
            expect(page.locator(href)).to_have_count(1)
        expect(summary.locator("a[href='#q_track-0']")).to_have_count(1)  # the question's first option
        if javascript:
            summary.get_by_role(
                "link", name="Email address — Please enter a valid email address, like name@example.com."
            ).click()
            expect(page.locator("#email")).to_be_focused()

        # A radio beside its label is picked by its label.
        track.get_by_label("Policy").check()
        expect(track.get_by_label("Policy")).to_be_checked()
        problems.assert_none()
    finally:
        context.close()
