"""Accessibility in headless Chromium: axe-core finds no serious or critical problem on
any page a participant sees, in English and in Persian (right to left); the form can be
filled and sent with the keyboard alone, focus always visible; and with JavaScript off
a person still registers and reads the times. (Fixtures: conftest.py.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from sqlalchemy import select

from tests.conftest import registration_input, starting_at
from tests.e2e.conftest import QUESTIONS, LiveServer, PageProblems, _new_page, axe_problems
from webapp.extensions import db
from webapp.models import Registration
from webapp.services.audit import Actor
from webapp.services.registrations import register_participant

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots-a11y")


@dataclass
class Programs:
    """Slugs of the public programs and a registrant's self-service token."""

    open: str
    closed: str
    waitlist: str
    token: str


@pytest.fixture
def programs(app: Flask, make_program: Callable[..., int]) -> Programs:
    """An open program with choice questions (and one registrant), one whose deadline
    has passed, and one full with its waiting list open."""
    now = datetime.now(UTC)
    open_id = make_program(slug="open-program", title="Lithium-ion basics", questions=QUESTIONS)
    make_program(
        slug="closed-program",
        title="Grid storage in practice",
        **starting_at(now + timedelta(days=3), deadline=now - timedelta(days=1)),
    )
    full_id = make_program(slug="full-program", title="Battery recycling", capacity=1, waitlist=True)
    with app.app_context():
        answers = {"track": "Policy", "topics": ["Safety"]}
        outcome = register_participant(
            open_id, registration_input(answers=answers, language="fa"), actor=Actor.participant()
        )
        register_participant(full_id, registration_input(email="first@example.com"), actor=Actor.participant())
        token = db.session.get(Registration, outcome.registration_id).token
    return Programs("open-program", "closed-program", "full-program", token)


def _submit(page: Page, name: str) -> None:
    """Press the form's submit button and wait for the page that answers."""
    with page.expect_navigation():
        page.get_by_role("button", name=name, exact=True).click()


@pytest.mark.parametrize("language", ["en", "fa"])
def test_axe_finds_no_serious_problem_on_any_participant_page(
    browser: Browser, app: Flask, live_server: LiveServer, programs: Programs, language: str
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    with app.test_request_context(), force_locale(language):
        register, cancel_yes = gettext("Register"), gettext("Yes, cancel my registration")
        expired, not_found = gettext("This page had expired"), gettext("Page not found")
    problems = PageProblems()
    context, page = _new_page(browser, problems, viewport={"width": 1280, "height": 900})
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "fa" else "ltr")
        found[name] = axe_problems(page)
        SHOTS.mkdir(exist_ok=True)
        picture = re.sub(r"[^a-z0-9]+", "-", f"{language} {name}".lower()).strip("-")
        page.screenshot(path=str(SHOTS / f"{picture}.png"), full_page=True)

    try:
        page.goto(f"{base}/?lang={language}")  # chosen once, remembered by the cookie
        check("public index")
        for name, slug in (("open", programs.open), ("closed", programs.closed), ("waitlist", programs.waitlist)):
            page.goto(f"{base}/programs/{slug}")
            check(f"program page ({name})")

        page.goto(f"{base}/programs/{programs.open}/register")
        check("registration form")
        _submit(page, register)
        expect(page.locator("#error-summary")).to_be_visible()
        check("registration form with errors")

        page.locator("#full_name").fill("Ayesha Khan")
        page.locator("#email").fill(f"new-{language}@example.com")
        page.locator("#country").select_option("PK")
        page.locator("#q_track-0").check()
        page.locator("#consent").check()
        _submit(page, register)
        expect(page).to_have_url(re.compile(r"/registered$"))
        check("done page")

        page.goto(f"{base}/r/{programs.token}")
        check("self-service page")
        assert _drawn_left_to_right(page, "a[href$='.ics']", ".ics"), "the calendar link reads 'ics.'"
        page.goto(f"{base}/r/{programs.token}/cancel")
        check("cancel page")

        # The form again without its CSRF token (as if it had expired): the CSRF page.
        page.locator("input[name=csrf_token]").evaluate("input => input.remove()")
        _submit(page, cancel_yes)
        expect(page.get_by_role("heading", level=1)).to_have_text(expired)
        check("CSRF failure page")

        page.goto(f"{base}/r/{programs.token}/cancel")
        _submit(page, cancel_yes)
        expect(page.locator(".flash")).to_be_visible()
        check("self-service page after cancelling")

        page.goto(f"{base}/programs/no-such-program")
        expect(page.get_by_role("heading", level=1)).to_have_text(not_found)
        check("404 page")
    finally:
        context.close()
    assert not problems.server_errors, problems.server_errors  # (the 400 and 404 are meant)

    report = "\n".join(f"{name}: {line}" for name, lines in found.items() for line in lines)
    assert not report, f"axe-core found serious or critical violations ({language}):\n{report}"


def test_axe_problems_name_the_rule_and_the_elements_at_fault(browser: Browser) -> None:
    """The checker itself: a page with known faults is reported rule by rule, with
    selectors a person can search for (what a failing run prints)."""
    context, page = _new_page(browser, PageProblems())
    try:
        page.set_content(
            '<!doctype html><html lang="en"><head><title>Faults</title></head><body><main>'
            '<h1>Faults</h1><img id="no-alt" src="data:,"><input id="no-label" type="text">'
            '<p id="faint" style="color:#ccc;background:#fff">Hard to read</p></main></body></html>'
        )
        problems = axe_problems(page)
    finally:
        context.close()
    assert any(line.startswith("image-alt (critical") and line.endswith("#no-alt") for line in problems), problems
    assert any(line.startswith("label (critical") and line.endswith("#no-label") for line in problems), problems
    assert any(line.startswith("color-contrast (serious") and line.endswith("#faint") for line in problems), problems


# --- the keyboard alone -------------------------------------------------------------

# What the focused element looks like: a ring at least 2px wide that is not transparent,
# and the element on screen.
_FOCUS_STYLE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return {where: "nothing focused", visible: false}; }
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const ring = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
    && !/rgba\\(.*, 0\\)$/.test(style.outlineColor);
  const onScreen = box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight
    && box.right > 0 && box.left < innerWidth;
  return {where: el.outerHTML.slice(0, 120), visible: ring && onScreen,
          outline: `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}`};
}"""


def _assert_focus_visible(page: Page) -> None:
    focus = page.evaluate(_FOCUS_STYLE)
    assert focus["visible"], f"focus is not visible on {focus['where']} (outline: {focus.get('outline')})"


# Where the first and the last letter of `text` are drawn, inside the element.
_FIRST_AND_LAST_X = """(el, text) => {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(text);
    if (at < 0) { continue; }
    const x = (i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                       return r.getBoundingClientRect().left; };
    return [x(at), x(at + text.length - 1)];
  }
  return null;
}"""


def _drawn_left_to_right(page: Page, selector: str, text: str) -> bool:
    """Whether `text` (English) is drawn in its own order inside the element: in a right
    to left page, a trailing "?" or "." left unisolated jumps to the left end."""
    xs = page.locator(selector).first.evaluate(_FIRST_AND_LAST_X, text)
    assert xs is not None, f"{text!r} is not in {selector}"
    return xs[1] > xs[0]


def _tab_to(page: Page, selector: str, limit: int = 30) -> None:
    """Press Tab until `selector` has focus, checking at every stop that focus shows."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        _assert_focus_visible(page)
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"{selector} was not reached with {limit} presses of Tab")


def _photograph(page: Page, name: str) -> None:
    """What the screen shows now (where focus is), for a person to look at."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _press_and_wait(page: Page, key: str) -> None:
    """A key that sends a form or follows a link: wait for the page that answers."""
    with page.expect_navigation():
        page.keyboard.press(key)


def test_a_persian_reader_registers_with_the_keyboard_alone_and_always_sees_focus(
    browser: Browser, app: Flask, live_server: LiveServer, programs: Programs
) -> None:
    from playwright.sync_api import expect

    with app.test_request_context(), force_locale("fa"):
        register_now, heading_done = gettext("Register now"), gettext("Check your inbox")
        email_problem = gettext("Please enter a valid email address, like name@example.com.")
    problems = PageProblems()
    context, page = _new_page(
        browser, problems, viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tehran",
        locale="fa-IR",
    )  # fmt: skip
    try:
        page.goto(f"{live_server.url}/programs/{programs.open}")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        assert _drawn_left_to_right(page, "p.summary", "A short training.")
        _tab_to(page, f"a[href='/programs/{programs.open}/register']")
        expect(page.locator(":focus")).to_have_text(register_now)
        _press_and_wait(page, "Enter")

        # A first try with a wrong address and nothing else: sent with Enter on the button.
        _tab_to(page, "#full_name")
        page.keyboard.type("آیدا رضایی")
        _tab_to(page, "#email")
        page.keyboard.type("not-an-email")
        _tab_to(page, "button[type=submit]")
        _press_and_wait(page, "Enter")

        # The summary of problems has focus, shown; its first link leads to the address.
        summary = page.locator("#error-summary")
        expect(summary).to_be_focused()
        _assert_focus_visible(page)
        _photograph(page, "keyboard-summary-focused-fa")
        _tab_to(page, "#error-summary a")
        expect(page.locator(":focus")).to_contain_text(email_problem)
        page.keyboard.press("Enter")
        expect(page.locator("#email")).to_be_focused()
        _assert_focus_visible(page)
        expect(page.locator("#full_name")).to_have_value("آیدا رضایی")  # kept
        # The program's English question reads as written in the Persian page and its summary.
        assert _drawn_left_to_right(page, "fieldset.choices legend", "Which track will you follow?")
        assert _drawn_left_to_right(page, "#error-summary li:nth-child(3)", "Which track will you follow?")

        page.keyboard.press("Control+A")
        page.keyboard.type("aida@example.com")
        _tab_to(page, "#country")
        page.keyboard.press("ArrowDown")  # the first country after "Choose your country"
        country = page.locator("#country").input_value()
        assert country, "the arrow key chose no country"
        _tab_to(page, "#organisation")
        page.keyboard.type("شرکت باتری تهران")

        # One of several: Tab reaches the group, Space picks, an arrow moves the choice.
        _tab_to(page, "#q_track-0")
        page.keyboard.press("Space")
        expect(page.locator("#q_track-0")).to_be_checked()
        page.keyboard.press("ArrowDown")
        expect(page.locator("#q_track-1")).to_be_checked()
        expect(page.locator("#q_track-1")).to_be_focused()
        _assert_focus_visible(page)
        _photograph(page, "keyboard-radio-focused-fa")
        # Any of several: Space ticks the one with focus.
        _tab_to(page, "#q_topics-1")
        page.keyboard.press("Space")
        expect(page.locator("#q_topics-1")).to_be_checked()

        _tab_to(page, "#consent")
        page.keyboard.press("Space")
        expect(page.locator("#consent")).to_be_checked()
        _tab_to(page, "button[type=submit]")
        _press_and_wait(page, "Enter")

        expect(page.get_by_role("heading", level=1)).to_have_text(heading_done)
        expect(page.locator("html")).to_have_attribute("lang", "fa")
        problems.assert_none()
    finally:
        context.close()

    with app.app_context():
        registration = db.session.scalars(select(Registration).where(Registration.email == "aida@example.com")).one()
        assert registration.full_name == "آیدا رضایی"
        assert registration.organisation == "شرکت باتری تهران"
        assert registration.country == country
        assert registration.language == "fa"
        assert registration.timezone == "Asia/Tehran"  # preselected from the browser
        assert registration.answers == {"track": "Grid storage", "topics": ["Safety"]}


# --- JavaScript off -----------------------------------------------------------------


def test_with_javascript_off_a_person_reads_the_times_and_registers(
    browser: Browser, app: Flask, live_server: LiveServer, programs: Programs
) -> None:
    from playwright.sync_api import expect

    from webapp.models import Program
    from webapp.services.times import format_in_zone, format_span, zone_label

    with app.app_context():
        program = db.session.scalars(select(Program).where(Program.slug == programs.open)).one()
        session = program.sessions[0]
        starts = format_span(session.starts_at, session.ends_at, program.timezone, "en", "long")
        deadline = format_in_zone(program.registration_deadline, program.timezone, "en", "long")
        zone = zone_label(program.timezone, "en")
    problems = PageProblems()
    context, page = _new_page(browser, problems, java_script_enabled=False, timezone_id="Europe/Istanbul")
    try:
        page.goto(f"{live_server.url}/programs/{programs.open}")
        sessions = page.get_by_role("region", name="Session")
        expect(sessions.locator("time").first).to_have_text(starts)
        expect(sessions).to_contain_text(f"Times are in {zone}.")
        expect(page.get_by_text(f"Register by {deadline}")).to_be_visible()
        expect(page.locator(".local-time")).to_have_count(0)  # that line is the script's

        page.get_by_role("link", name="Register now").click()
        page.get_by_label("Full name", exact=True).fill("Ayşe Yılmaz")
        page.get_by_label("Email address", exact=True).fill("ayse@example.com")
        page.get_by_label("Country", exact=True).select_option("TR")
        page.get_by_role("group", name="Which track will you follow?").get_by_label("Policy").check()
        page.get_by_role("checkbox", name=re.compile("agree", re.IGNORECASE)).check()
        _submit(page, "Register")
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
        expect(page.get_by_text("It goes to ayse@example.com.")).to_be_visible()
        problems.assert_none()
    finally:
        context.close()

    with app.app_context():
        registration = db.session.scalars(select(Registration).where(Registration.email == "ayse@example.com")).one()
        assert registration.status == "confirmed"
        assert registration.timezone == program.timezone  # no script to suggest the browser's
