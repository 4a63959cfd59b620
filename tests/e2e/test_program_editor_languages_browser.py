"""In a real browser, an organiser whose console is in Persian saves the program editor
with the deadline after the first session: the page stays right to left and the problem
is read in Persian beside the deadline, which the screen reader is pointed at."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from tests.conftest import starting_at
from tests.e2e.conftest import LiveServer, PageProblems, _new_page, sign_in_in_browser
from tests.functional.helpers import ORGANISER_PASSWORD
from webapp.services.organisers import create_organiser

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/rollcall-shots")


@pytest.mark.parametrize(
    ("locale", "language", "message"),
    [
        ("fa-IR", "fa", "نباید پس از آغاز نخستین جلسه باشد."),
        ("en-US", "en", "Must not be after the first session starts."),
    ],
)
def test_the_editor_shows_the_deadline_problem_in_the_consoles_language(
    browser: object,
    app: Flask,
    live_server: LiveServer,
    make_program: Callable[..., int],
    locale: str,
    language: str,
    message: str,
) -> None:
    from playwright.sync_api import expect

    starts = (datetime.now(UTC) + timedelta(days=10)).replace(second=0, microsecond=0)
    program_id = make_program(title="Lithium-ion basics", timezone="Asia/Karachi", **starting_at(starts))
    with app.app_context():
        create_organiser("boss@example.org", "Boss", ORGANISER_PASSWORD, admin=True)
    problems = PageProblems()
    context, page = _new_page(browser, problems, locale=locale)  # type: ignore[arg-type]
    try:
        page.goto(f"{live_server.url}/organiser/login?lang=en")
        sign_in_in_browser(page, live_server.url)
        page.goto(f"{live_server.url}/organiser/programs/{program_id}/edit?lang={language}")
        after = (starts + timedelta(days=1)).astimezone(ZoneInfo("Asia/Karachi")).strftime("%Y-%m-%dT%H:%M")
        page.locator("#registration_deadline").fill(after)
        page.locator('button[name="save"]').click()
        error = page.locator("#registration_deadline-error")
        expect(error).to_have_text(message)
        expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "fa" else "ltr")
        expect(page.locator("#registration_deadline")).to_have_attribute(
            "aria-describedby", re.compile(r"\bregistration_deadline-error\b")
        )
        SHOTS.mkdir(exist_ok=True)
        error.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"editor-problem-{language}.png"))
        if language == "fa":
            # Lengths in Persian digits; a value from the form quoted as typed, left to right
            # inside the right-to-left sentence.
            page.locator("#title").fill("ب" * 250)
            page.locator("#slug").fill("Grid Storage")
            page.locator('button[name="save"]').click()
            expect(page.locator("#title-error")).to_have_text("حداکثر ۲۰۰ نویسه مجاز است (اکنون ۲۵۰ نویسه دارد).")
            expect(page.locator("#slug-error")).to_contain_text("'Grid Storage' فقط می‌تواند")
            page.locator("#title-error").scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / "editor-problem-fa-lengths.png"))
        problems.assert_none()
    finally:
        context.close()
