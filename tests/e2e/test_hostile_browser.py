"""In headless Chromium: what a browser does with input past the form's limits. A name
longer than 200 characters is refused with a message by the field, not cut silently by
the page (a `maxlength` would cut it without a word). (Fixtures: conftest.py.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.e2e.conftest import LiveServer, PageProblems, _new_page
from webapp.extensions import db
from webapp.models import Registration

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


def test_a_long_name_and_an_address_we_cannot_reach_are_refused_by_their_fields(
    browser: Browser, app: Flask, live_server: LiveServer, demo: str
) -> None:
    from playwright.sync_api import expect

    problems = PageProblems()
    context, page = _new_page(browser, problems)
    long_name = "Muhammad " + "A" * 241
    try:
        page.goto(f"{live_server.url}/programs/{demo}/register")
        page.fill("#full_name", long_name)
        page.fill("#email", "josé@example.com")
        page.select_option("#country", "PK")
        page.check("#consent")
        expect(page.locator("#full_name")).to_have_value(long_name)  # nothing cut by the page
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Register", exact=True).click()
        assert posted.value.status == 200
        page.wait_for_load_state()
        expect(page.locator("#full_name-error")).to_have_text("Please shorten your name to at most 200 characters.")
        expect(page.locator("#email-error")).to_contain_text(
            "We cannot yet send email to an address with accented or non-Latin letters before the @."
        )
        expect(page.locator("#full_name")).to_have_value(long_name)  # kept, to shorten
        problems.assert_none()
    finally:
        context.close()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 0
