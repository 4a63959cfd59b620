"""An organiser whose browser is in another time zone than the program's: saving the
program editor without touching a time moves nothing and emails nobody; adding a
registrant by hand defaults to the program's zone, not the organiser's (DESIGN Rule 7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import registration_input, starting_at
from tests.e2e.conftest import LiveServer, PageProblems, _new_page, sign_in_in_browser
from tests.functional.helpers import ORGANISER_PASSWORD
from webapp.extensions import db
from webapp.models import Email, Program, ProgramSession, Registration
from webapp.services.audit import Actor
from webapp.services.organisers import create_organiser
from webapp.services.registrations import register_participant

if TYPE_CHECKING:
    pass

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/rollcall-shots")


def _times(app: Flask, program_id: int) -> tuple[object, ...]:
    with app.app_context():
        program = db.session.get(Program, program_id)
        assert program is not None
        sessions = db.session.scalars(select(ProgramSession).where(ProgramSession.program_id == program_id))
        return (
            program.registration_deadline,
            program.registration_opens_at,
            program.timezone,
            tuple((s.starts_at, s.ends_at, s.ics_sequence, s.rescheduled_at) for s in sessions),
        )


@pytest.mark.parametrize("browser_zone", ["Asia/Shanghai", "America/St_Johns"])
def test_saving_the_editor_with_only_the_summary_changed_moves_no_time_and_emails_nobody(
    browser: object, app: Flask, live_server: LiveServer, make_program: Callable[..., int], browser_zone: str
) -> None:
    from playwright.sync_api import expect

    # Times with seconds, as an imported file may carry: the editor shows minutes only.
    starts = datetime(2099, 2, 10, 9, 0, 17, tzinfo=UTC)
    opens = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1, seconds=-23)
    program_id = make_program(
        timezone="Asia/Karachi",
        registration_opens_at=opens.isoformat(),
        **starting_at(starts, deadline=datetime(2099, 2, 8, 18, 59, 41, tzinfo=UTC)),
    )
    with app.app_context():
        create_organiser("boss@example.org", "Boss", ORGANISER_PASSWORD, admin=True)
        for i in range(2):
            register_participant(program_id, registration_input(email=f"p{i}@example.com"), actor=Actor.participant())
    before = _times(app, program_id)

    problems = PageProblems()
    context, page = _new_page(browser, problems, timezone_id=browser_zone)  # type: ignore[arg-type]
    try:
        sign_in_in_browser(page, live_server.url)
        page.goto(f"{live_server.url}/organiser/programs/{program_id}/edit")
        expect(page.get_by_label("Time zone")).to_have_value("Asia/Karachi")
        expect(page.get_by_label("Starts")).to_have_value("2099-02-10T14:00")  # 09:00 UTC in Karachi
        expect(page.get_by_label("Registration deadline")).to_have_value("2099-02-08T23:59")
        page.get_by_label("Summary", exact=True).fill("A short training, now with a lab tour.")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_text("Saved.")).to_be_visible()
        page.goto(f"{live_server.url}/organiser/")
        expect(page.get_by_text("Sun, Feb 8, 2099, 23:59 GMT+5")).to_be_visible()  # the deadline, in Karachi
        page.goto(f"{live_server.url}/organiser/programs/{program_id}/edit")
        expect(page.get_by_label("Starts")).to_have_value("2099-02-10T14:00")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"editor-{browser_zone.replace('/', '-')}.png"), full_page=True)
        page.goto(f"{live_server.url}/programs/li-ion-basics")
        expect(page.get_by_text("Tuesday, February 10, 2099, 14:00 – 16:00 Pakistan Standard Time")).to_be_visible()
        problems.assert_none()
    finally:
        context.close()

    assert _times(app, program_id) == before
    with app.app_context():
        program = db.session.get(Program, program_id)
        assert program is not None and program.summary == "A short training, now with a lab tour."
        kinds = list(db.session.scalars(select(Email.kind)))
    assert "session_updated" not in kinds
    assert sorted(kinds) == ["confirmation", "confirmation"]


def test_adding_a_registrant_defaults_to_the_programs_zone_and_the_participant_form_to_the_browsers(
    browser: object, app: Flask, live_server: LiveServer, make_program: Callable[..., int]
) -> None:
    from playwright.sync_api import expect

    program_id = make_program(timezone="Asia/Karachi")
    with app.app_context():
        create_organiser("boss@example.org", "Boss", ORGANISER_PASSWORD, admin=True)
    problems = PageProblems()
    context, page = _new_page(browser, problems, timezone_id="Asia/Shanghai")  # type: ignore[arg-type]
    try:
        sign_in_in_browser(page, live_server.url)
        page.goto(f"{live_server.url}/organiser/programs/{program_id}/attendees/new")
        expect(page.get_by_label("Your time zone")).to_have_value("Asia/Karachi")
        expect(page.get_by_label("Preferred language for emails")).to_have_value("en")
        page.get_by_label("Full name").fill("Bilal Ahmed")
        page.get_by_label("Email address").fill("bilal@example.com")
        page.get_by_label("Country").select_option("PK")
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.get_by_text("Added Bilal Ahmed")).to_be_visible()

        # The participant's own form still starts from their browser's zone.
        page.goto(f"{live_server.url}/programs/li-ion-basics/register")
        expect(page.get_by_label("Your time zone")).to_have_value("Asia/Shanghai")
        problems.assert_none()
    finally:
        context.close()
    with app.app_context():
        added = db.session.scalar(select(Registration).where(Registration.email == "bilal@example.com"))
        assert added is not None and added.timezone == "Asia/Karachi"
