"""The organiser's main journey in headless Chromium: sign in, create and publish a
program, register for it from a second browser, find the registrant, approve them,
export the list, and send a message that reaches the mailbox."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from tests.conftest import SMTPServer, WorkerProcess
from tests.e2e.conftest import LiveServer, PageProblems, _new_page, _open_message
from webapp.services.organisers import create_organiser

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.worker]

PASSWORD = "a long enough password"
KARACHI = ZoneInfo("Asia/Karachi")


def _local(value: datetime) -> str:
    return value.astimezone(KARACHI).strftime("%Y-%m-%dT%H:%M")


def test_sign_in_create_publish_register_approve_export_and_message(
    browser: Browser, app: Flask, live_server: LiveServer, celery_worker: WorkerProcess, smtp: SMTPServer
) -> None:
    from playwright.sync_api import expect

    with app.app_context():
        create_organiser("coordinator@example.org", "Training Coordinator", PASSWORD, admin=True)
    base = live_server.url
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=14)
    problems = PageProblems()
    organiser_context, organiser = _new_page(browser, problems, accept_downloads=True)
    participant_context, participant = _new_page(browser, problems, timezone_id="Asia/Almaty")
    try:
        # Sign in.
        organiser.goto(f"{base}/organiser/")
        organiser.get_by_label("Email address").fill("coordinator@example.org")
        organiser.get_by_label("Password").fill(PASSWORD)
        organiser.get_by_role("button", name="Sign in").click()
        expect(organiser.get_by_role("heading", name="Programs")).to_be_visible()

        # Create the program: approval required, one session, one extra question.
        organiser.get_by_role("link", name="New program").click()
        organiser.get_by_label("Title", exact=True).fill("Battery recycling workshop")
        organiser.get_by_label("Web address").fill("battery-recycling")
        organiser.get_by_label("Summary", exact=True).fill("One afternoon on recycling lithium-ion cells.")
        organiser.get_by_label("Organiser", exact=True).fill("BTBU-ECOSF Joint Training Center")
        organiser.get_by_label("Time zone").select_option("Asia/Karachi")
        organiser.get_by_label("Registration deadline").fill(_local(starts - timedelta(days=2)))
        organiser.get_by_label("Seats (empty for unlimited)").fill("40")
        organiser.get_by_label("Organisers approve each registration").check()
        organiser.get_by_label("Session title").fill("Workshop")
        organiser.get_by_label("Starts").fill(_local(starts))
        organiser.get_by_label("Ends").fill(_local(starts + timedelta(hours=3)))
        organiser.get_by_label("Zoom link").fill("https://zoom.us/j/55500011122")
        organiser.get_by_role("button", name="Add a question").click()
        organiser.get_by_label("Question", exact=True).fill("Your company")
        organiser.get_by_role("button", name="Save as draft").click()
        expect(organiser.get_by_text("Saved as a draft.")).to_be_visible()

        # Preview, then publish.
        organiser.get_by_role("link", name="Preview the public page").click()
        expect(organiser.get_by_text("Preview: this is how the public page looks")).to_be_visible()
        organiser.get_by_role("link", name="Back to the program").click()
        organiser.get_by_role("button", name="Publish").click()
        expect(organiser.get_by_text("The program is now published.")).to_be_visible()

        # A participant registers from another browser.
        participant.goto(f"{base}/programs/battery-recycling")
        participant.get_by_role("link", name="Register now").click()
        participant.get_by_label("Full name").fill("Dana Abenova")
        participant.get_by_label("Email address").fill("dana@example.kz")
        participant.get_by_label("Country").select_option("KZ")
        participant.get_by_label("Your company").fill("Almaty Cells")
        participant.get_by_label(re.compile("I agree")).check()
        participant.get_by_role("button", name="Register").click()
        expect(participant.get_by_role("heading", name="Check your inbox")).to_be_visible()

        # The organiser finds her and approves her.
        organiser.get_by_role("link", name="Attendees").first.click()
        organiser.get_by_label("Search name, email or organisation").fill("abenova")
        organiser.get_by_role("button", name="Filter").click()
        row = organiser.locator("table.attendees tbody tr", has_text="Dana Abenova")
        expect(row).to_contain_text("Awaiting approval")
        expect(row).to_contain_text("Almaty Cells")
        row.get_by_role("checkbox").check()
        organiser.get_by_label("Action").select_option("approve")
        organiser.get_by_role("button", name="Apply to selected").click()
        expect(organiser.get_by_text("Approve: 1 changed")).to_be_visible()
        expect(organiser.locator("table.attendees tbody tr", has_text="Dana Abenova")).to_contain_text("Confirmed")

        # Export the list.
        with organiser.expect_download() as download:
            organiser.get_by_role("link", name="Export CSV").click()
        rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
        assert rows[0][:2] == ["Name", "Email"] and rows[0][-1] == "Your company"
        assert rows[1][:2] == ["Dana Abenova", "dana@example.kz"] and rows[1][5] == "confirmed"

        # Write to the confirmed registrants; watch the delivery complete.
        organiser.get_by_role("link", name="Messages").first.click()
        organiser.get_by_role("link", name="Write to registrants").click()
        organiser.get_by_label("Send to").select_option("confirmed")
        organiser.get_by_label("Subject").fill("Bring your questions, {name}")
        organiser.get_by_label("Message").fill("Dear {name},\n\nSee you at {program}: {join_url}")
        organiser.get_by_role("button", name="Preview").click()
        expect(organiser.get_by_text("As Dana Abenova (dana@example.kz) will read it.")).to_be_visible()
        organiser.get_by_role("button", name="Send to 1 person").click()
        expect(organiser.locator('[data-count="sent"]')).to_have_text("1", timeout=30_000)

        # The message reached the mailbox, with her link to join.
        _open_message(organiser, base, re.compile("Bring your questions, Dana Abenova"), celery_worker)
        expect(organiser.locator("pre.mail-text").first).to_contain_text("https://zoom.us/j/55500011122")
        problems.assert_none()
    finally:
        participant_context.close()
        organiser_context.close()
