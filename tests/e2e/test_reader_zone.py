"""The reader's time zone in Chromium: the script tells the server the browser's zone
(the `rollcall_tz` cookie), and from the next page on the server writes the reader's time
itself, once, named in the page's language. Screenshots of the program page in Persian
and Chinese (and English) with a reader in Tehran go to /tmp/rollcall-shots for a person to look at."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import starting_at
from tests.e2e.conftest import LiveServer, PageProblems, _new_page

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/rollcall-shots")
PHONE = {"width": 390, "height": 844}
STARTS = datetime(2099, 2, 10, 9, 0, tzinfo=UTC)  # 14:00 in Karachi, 12:30 in Tehran


def test_the_script_tells_the_server_the_zone_and_the_next_page_writes_the_readers_time_once(
    browser: Browser, live_server: LiveServer, make_program: Callable[..., int]
) -> None:
    from playwright.sync_api import expect

    make_program(timezone="Asia/Karachi", **starting_at(STARTS, deadline=datetime.now(UTC) + timedelta(days=5)))
    problems = PageProblems()
    context, page = _new_page(browser, problems, timezone_id="Asia/Tehran", viewport=PHONE)
    try:
        url = f"{live_server.url}/programs/li-ion-basics"
        # First visit: the server does not know the zone; the script adds the reader's
        # line (in the page's language) and remembers the zone.
        page.goto(f"{url}?lang=fa")
        lines = page.locator(".local-time")
        expect(lines).to_have_count(2)  # the deadline and the session
        expect(lines.last).to_contain_text("زمان شما:")
        expect(lines.last).to_contain_text("Asia/Tehran")
        [cookie] = [c for c in context.cookies() if c["name"] == "rollcall_tz"]
        assert (cookie["value"], cookie["path"], cookie["sameSite"], cookie["secure"]) == (
            "Asia/Tehran",
            "/",
            "Lax",
            False,
        )
        assert cookie["expires"] > (datetime.now(UTC) + timedelta(days=360)).timestamp()

        # Next visit: the server writes it, and the script adds no second line.
        for language, words in (
            ("fa", "زمان شما: سه\u200cشنبه ۱۰ فوریهٔ ۲۰۹۹، ساعت ۱۲:۳۰ – ۱۴:۳۰ وقت عادی ایران"),
            ("zh", "您的时间：2099年2月10日星期二 12:30 – 14:30 伊朗标准时间"),
            ("en", "Your time: Tuesday, February 10, 2099, 12:30 – 14:30 Iran Standard Time"),
        ):
            page.goto(f"{url}?lang={language}")
            expect(lines).to_have_count(2)
            expect(lines.last).to_have_text(words)
            expect(page.locator("time[data-local]")).to_have_count(0)
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / f"program-reader-tehran-{language}-phone.png"), full_page=True)

        # The form starts in the reader's zone, from the server (the script agrees).
        page.goto(f"{live_server.url}/programs/li-ion-basics/register")
        expect(page.get_by_label("Your time zone")).to_have_value("Asia/Tehran")
        expect(page.locator(".local-time")).to_have_count(1)  # the deadline's
        problems.assert_none()
    finally:
        context.close()


def test_without_the_cookie_the_script_names_the_zone_in_the_pages_language(
    browser: Browser, live_server: LiveServer, make_program: Callable[..., int]
) -> None:
    """A browser that keeps no cookies still reads its own time, from the script."""
    from playwright.sync_api import expect

    make_program(timezone="Asia/Karachi", **starting_at(STARTS, deadline=datetime.now(UTC) + timedelta(days=5)))
    problems = PageProblems()
    context, page = _new_page(browser, problems, timezone_id="America/St_Johns")
    try:
        for language, words in (("zh", "您的时间"), ("en", "Your time")):
            context.clear_cookies()
            page.goto(f"{live_server.url}/programs/li-ion-basics?lang={language}")
            session_line = page.locator(".sessions .local-time")
            expect(session_line).to_have_count(1)
            expect(session_line).to_contain_text(words)
            expect(session_line).to_contain_text("05:30")
            expect(session_line).to_contain_text("07:30")
            expect(session_line).to_contain_text("纽芬兰" if language == "zh" else "Newfoundland")
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / f"program-script-stjohns-{language}.png"), full_page=True)
        problems.assert_none()
    finally:
        context.close()
