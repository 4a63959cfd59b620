"""Accessibility in headless Chromium: axe-core finds no serious or critical problem on
any page a participant sees, in English and in Persian (right to left); the form can be
filled and sent with the keyboard alone, focus always visible; and with JavaScript off
a person still registers and reads the times. (Fixtures: conftest.py.)

axe-core comes from the `axe-playwright-python` package (requirements-dev.txt), which
ships axe.min.js: nothing is fetched while the tests run."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from flask_babel import force_locale, gettext

from tests.conftest import registration_input, starting_at
from tests.e2e.conftest import LiveServer, PageProblems, _new_page
from webapp.extensions import db
from webapp.models import Registration
from webapp.services.audit import Actor
from webapp.services.registrations import register_participant

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

# The impacts that fail the test (axe's scale: minor, moderate, serious, critical).
FAILING_IMPACTS = frozenset({"serious", "critical"})
QUESTIONS = [
    {"key": "track", "label": "Which track will you follow?", "type": "single_choice", "required": True,
     "options": ["Cell manufacturing", "Grid storage", "Policy"]},
    {"key": "topics", "label": "Topics you want covered", "type": "multiple_choice",
     "options": ["Recycling", "Safety"]},
]  # fmt: skip


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


# --- axe ------------------------------------------------------------------------------


def axe_problems(page: Page) -> list[str]:
    """Run axe-core on the page as it is now; one line per serious or critical
    violation, naming its rule, impact and the elements (CSS selectors) at fault."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations"]})
    problems = []
    for violation in results.response["violations"]:
        if violation["impact"] in FAILING_IMPACTS:
            targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"])
            problems.append(f"{violation['id']} ({violation['impact']}: {violation['help']}) at {targets}")
    return problems


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
    problems = PageProblems()
    context, page = _new_page(browser, problems, viewport={"width": 1280, "height": 900})
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "fa" else "ltr")
        found[name] = axe_problems(page)

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
        page.goto(f"{base}/r/{programs.token}/cancel")
        check("cancel page")

        # The form again without its CSRF token (as if it had expired): the CSRF page.
        page.locator("input[name=csrf_token]").evaluate("input => input.remove()")
        _submit(page, cancel_yes)
        check("CSRF failure page")

        page.goto(f"{base}/r/{programs.token}/cancel")
        _submit(page, cancel_yes)
        expect(page.locator(".flash")).to_be_visible()
        check("self-service page after cancelling")

        page.goto(f"{base}/programs/no-such-program")
        check("404 page")
    finally:
        context.close()

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
