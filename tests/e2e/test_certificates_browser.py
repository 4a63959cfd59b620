"""Certificates in headless Chromium: the organiser finds the panel, previews one
certificate (once the renderer is there) and sends them after the confirmation step; a
participant verifies a code in Persian (typed as people type it) and in English, and an
unknown code gets the neutral page. Screenshots in /tmp/rollcall-shots."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from sqlalchemy import select

from tests.e2e.conftest import LiveServer, PageProblems, _new_page, sign_in_in_browser
from tests.functional.helpers import attended_program
from webapp.extensions import db
from webapp.models import Certificate
from webapp.services.certificates.codes import format_code
from webapp.services.organisers import create_organiser

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/rollcall-shots")
PEOPLE = [
    ("Ayesha Khan", "ayesha@example.com", "en", 100),
    ("علی رضایی", "ali@example.ir", "fa", 95),
    ("李伟", "li@example.cn", "zh", 20),
]


def test_organiser_sends_certificates_and_a_participant_verifies_one(
    browser: Browser, app: Flask, live_server: LiveServer, make_program: Callable[..., int]
) -> None:
    from playwright.sync_api import expect

    with app.app_context():
        create_organiser("boss@example.org", "Boss", "a long enough password", admin=True)
    program_id = make_program(certificates=True, organiser="ECOSF Training Centre")
    attended_program(app, program_id, PEOPLE)
    base = live_server.url
    SHOTS.mkdir(exist_ok=True)
    problems = PageProblems()
    organiser_context, organiser = _new_page(browser, problems)
    try:
        sign_in_in_browser(organiser, base)
        organiser.goto(f"{base}/organiser/programs/{program_id}/")
        panel = organiser.locator("#certificates")
        expect(panel).to_contain_text("2 confirmed registrants attended.")
        expect(panel).to_contain_text("0 certificates issued so far.")
        panel.screenshot(path=str(SHOTS / "certificates-panel-en.png"))

        preview = panel.get_by_role("link", name="Preview")
        if importlib.util.find_spec("webapp.services.certificates.pdf") is not None:
            response = organiser.request.get(base + (preview.get_attribute("href") or ""))
            assert response.status == 200 and response.headers["content-type"] == "application/pdf"
        with app.app_context():
            assert db.session.scalar(select(Certificate.id)) is None  # the preview issued nothing

        panel.get_by_role("link", name="Send certificates").click()
        expect(organiser.get_by_role("heading", name="Send certificates")).to_be_visible()
        expect(organiser.locator("main")).to_contain_text(
            "2 registrants who attended will each be issued a certificate and emailed it as a PDF"
        )
        organiser.screenshot(path=str(SHOTS / "certificates-confirm-en.png"), full_page=True)
        organiser.get_by_role("button", name="Send 2 certificates").click()
        expect(organiser.locator(".flash-success")).to_have_text(
            "2 certificates issued. Their emails are on their way."
        )
        expect(organiser.locator("#certificates")).to_contain_text("2 certificates issued so far.")
        organiser.goto(f"{base}/organiser/programs/{program_id}/?lang=fa")
        expect(organiser.locator("#certificates")).to_contain_text("تاکنون ۲ گواهی صادر شده است.")
        organiser.locator("#certificates").screenshot(path=str(SHOTS / "certificates-panel-fa.png"))
    finally:
        organiser_context.close()

    with app.app_context():
        code = db.session.scalar(select(Certificate.code).where(Certificate.full_name == "علی رضایی"))
    printed = format_code(code)

    # A Persian reader types the code in lower case with spaces.
    fa_context, fa = _new_page(browser, problems, locale="fa-IR")
    try:
        fa.goto(f"{base}/verify")
        expect(fa.locator("html")).to_have_attribute("dir", "rtl")
        fa.get_by_label("کد گواهی").fill(" ".join(printed.lower().split("-")))
        fa.get_by_role("button", name="بررسی").click()
        expect(fa.locator(".badge")).to_have_text("گواهی معتبر")
        expect(fa.locator("dl.details")).to_contain_text("علی رضایی")
        expect(fa.locator("dl.details")).to_contain_text("۱ ساعت و ۳۵ دقیقه")
        assert fa.url.endswith(f"/verify/{printed}")
        fa.screenshot(path=str(SHOTS / "verify-valid-fa.png"), full_page=True)
    finally:
        fa_context.close()

    en_context, en = _new_page(browser, problems)
    try:
        en.goto(f"{base}/verify/{printed}")
        expect(en.locator(".badge")).to_have_text("Valid certificate")
        details = en.locator("dl.details")
        expect(details).to_contain_text("علی رضایی")
        expect(details).to_contain_text("Lithium-ion basics")
        expect(details).to_contain_text("ECOSF Training Centre")
        expect(details).to_contain_text("1 hour, 35 minutes")
        assert "ali@example.ir" not in en.content()
        en.screenshot(path=str(SHOTS / "verify-valid-en.png"), full_page=True)
        response = en.goto(f"{base}/verify/0000-0000-0000-0000")
        assert response is not None and response.status == 404
        expect(en.get_by_role("heading", level=1)).to_have_text("No certificate has this code")
        en.screenshot(path=str(SHOTS / "verify-unknown-en.png"), full_page=True)
    finally:
        en_context.close()
    # The unknown code's 404 is the one error Chromium reports, as it must.
    problems.console_errors = [e for e in problems.console_errors if "404" not in e]
    problems.assert_none()
