"""Browser fixtures and helpers shared by the end-to-end tests (headless Chromium).

The application runs on a live werkzeug server in a thread (PostgreSQL and Redis from the
fixtures), a real `celery -A worker worker --beat` process delivers the email to the
SMTP fixture, and the SMTP fixture files it in the Maildir that /dev/mailbox reads.

Needs Debian's Chromium at /usr/bin/chromium (driven by Playwright with
`executable_path`; `playwright install` is never used). With CI=true a missing browser
fails the run; elsewhere these tests are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from tests.conftest import IN_CI, SMTPServer, WorkerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
DEMO_SLUG = "lithium-ion-batteries-demo"
DEMO_TITLE = "Powering Belt and Road: Lithium-ion batteries"
ZOOM_URL = "https://zoom.us/j/81234567890"
PASSCODE = "liion6"
TIMEOUT_MS = 15_000
MAIL_TIMEOUT_S = 30.0


# --- fixtures ----------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    server: BaseWSGIServer
    thread: threading.Thread


@pytest.fixture
def live_server(app: Flask, smtp: SMTPServer) -> Iterator[LiveServer]:
    """The `app` fixture's application served over HTTP on 127.0.0.1, in a thread.

    Messages the SMTP fixture receives are filed in the app's DEV_MAILBOX_DIR, so the
    /dev/mailbox pages show what the worker sent."""
    smtp.handler.maildir = app.config["DEV_MAILBOX_DIR"]
    app.config["OUTBOX_DOORBELL"] = "thread"  # as web processes run in production
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.port}"
    app.config["PUBLIC_BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield LiveServer(url, server, thread)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def demo(app: Flask) -> str:
    """The demo program (`seed_demo`), published and open; returns its slug."""
    from webapp.services.audit import Actor
    from webapp.services.programs import seed_demo

    with app.app_context():
        program = seed_demo(actor=Actor.system())
        assert program.slug == DEMO_SLUG
        return program.slug


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium through Playwright, closed after the test. (Tests list it
    first, so a missing browser skips them before the services are set up.)"""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)) and not shutil.which(CHROMIUM):
        if IN_CI:
            pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing", pytrace=False)
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("the playwright package is required in CI", pytrace=False)
        pytest.skip("the playwright package is not installed")

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000, handle_sigint=False
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class PageProblems:
    """Server errors, uncaught script errors and console errors seen by a page."""

    server_errors: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("response", self._on_response)
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))
        page.on("console", self._on_console)

    def _on_response(self, response: Response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} at {message.location.get('url', '')}")

    def assert_none(self) -> None:
        assert not self.server_errors, self.server_errors
        assert not self.script_errors, self.script_errors
        assert not self.console_errors, self.console_errors


def sign_in_in_browser(page: Page, base: str, email: str = "boss@example.org") -> None:
    """Sign in through the organiser login page (the account must exist, with the tests'
    password) and wait for the programs list."""
    from playwright.sync_api import expect

    from tests.functional.helpers import ORGANISER_PASSWORD

    page.goto(f"{base}/organiser/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(ORGANISER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Programs")).to_be_visible()


def _new_page(browser: Browser, problems: PageProblems, **context_options: Any) -> tuple[BrowserContext, Page]:
    # English unless the test gives a locale (which is also what Accept-Language says).
    context = browser.new_context(**({"locale": "en-US"} | context_options))
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems.watch(page)
    return context, page


# --- helpers -----------------------------------------------------------------------


def _open_message(page: Page, base_url: str, subject: re.Pattern[str], log: WorkerProcess) -> None:
    """Reload /dev/mailbox until a message whose subject matches arrives, then open it."""
    deadline = time.monotonic() + MAIL_TIMEOUT_S
    while True:
        response = page.goto(f"{base_url}/dev/mailbox/")
        assert response is not None and response.status == 200
        link = page.locator("table.mailbox").get_by_role("link", name=subject)
        if link.count() > 0:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"no message matching {subject.pattern!r} in /dev/mailbox; worker log:\n{log.log()}")
        time.sleep(0.5)
    assert link.count() == 1, f"expected exactly one matching message, found {link.count()}"
    link.click()
    page.wait_for_load_state()


# The impacts that fail an accessibility check (axe's scale: minor, moderate, serious, critical).
AXE_FAILING_IMPACTS = frozenset({"serious", "critical"})


def axe_problems(page: Page) -> list[str]:
    """Run axe-core on the page as it is now; one line per serious or critical
    violation, naming its rule, impact and the elements (CSS selectors) at fault.

    axe-core comes from the `axe-playwright-python` package (requirements-dev.txt),
    which ships axe.min.js: nothing is fetched while the tests run."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations"]})
    problems = []
    for violation in results.response["violations"]:
        if violation["impact"] in AXE_FAILING_IMPACTS:
            targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"])
            problems.append(f"{violation['id']} ({violation['impact']}: {violation['help']}) at {targets}")
    return problems


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


# Two form questions, one required choice and one multiple choice, for the pages the
# browser tests look at.
QUESTIONS = [
    {"key": "track", "label": "Which track will you follow?", "type": "single_choice", "required": True,
     "options": ["Cell manufacturing", "Grid storage", "Policy"]},
    {"key": "topics", "label": "Topics you want covered", "type": "multiple_choice",
     "options": ["Recycling", "Safety"]},
]  # fmt: skip
