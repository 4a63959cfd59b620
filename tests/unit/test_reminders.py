"""Reminder timing by time travel: `schedule_due_reminders(now=...)` is a pure function of
the clock it is given, so the tests walk the clock across the due moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from tests.conftest import program_data, registration_input, starting_at
from webapp.extensions import db
from webapp.models import Email, Registration, ReminderRun
from webapp.services.audit import Actor
from webapp.services.mailer import deliver_emails
from webapp.services.programs import import_program
from webapp.services.registrations import cancel_registration, register_participant
from webapp.services.reminders import schedule_due_reminders

BERLIN = ZoneInfo("Europe/Berlin")


def _program_at(starts: datetime, deadline: datetime | None = None) -> int:
    data = program_data(timezone="Europe/Berlin", **starting_at(starts, deadline=deadline))
    program, _ = import_program(data, actor=Actor.system())
    return program.id


def _confirm_at(program_id: int, email: str, when: datetime) -> int:
    """Register, then backdate the confirmation (the registration happened `when`)."""
    outcome = register_participant(program_id, registration_input(email=email), actor=Actor.participant())
    db.session.execute(update(Registration).where(Registration.id == outcome.registration_id).values(confirmed_at=when))
    db.session.commit()
    return outcome.registration_id


def _reminders() -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(Email.recipient, Email.payload).where(Email.kind == "reminder").order_by(Email.id)
    ).all()
    return [(recipient, payload["minutes"]) for recipient, payload in rows]


@pytest.mark.parametrize(
    ("starts", "local_hour_24h_before"),
    [
        # Berlin springs forward at 02:00 on 28 March 2027: the day before the session
        # has 23 hours, so "24 hours before" 10:00 CEST is 09:00 CET on the wall clock.
        (datetime(2027, 3, 28, 10, 0, tzinfo=BERLIN), 9),
        # It falls back at 03:00 on 31 October 2027: 24 hours before 10:00 CET is 11:00 CEST.
        (datetime(2027, 10, 31, 10, 0, tzinfo=BERLIN), 11),
    ],
)
def test_24h_and_1h_fall_due_at_the_right_moments_across_dst(
    ctx: Flask, starts: datetime, local_hour_24h_before: int
) -> None:
    program_id = _program_at(starts)
    _confirm_at(program_id, "early@example.com", datetime.now(UTC))
    # Arithmetic in UTC: subtracting from a Berlin-aware datetime would move the wall
    # clock (the classic DST bug), not elapsed time.
    due_24h = starts.astimezone(UTC) - timedelta(hours=24)
    assert due_24h.astimezone(BERLIN).hour == local_hour_24h_before
    due_1h = starts.astimezone(UTC) - timedelta(hours=1)

    assert schedule_due_reminders(now=due_24h - timedelta(seconds=1))["emails"] == 0
    assert schedule_due_reminders(now=due_24h)["emails"] == 1
    assert _reminders() == [("early@example.com", 1440)]
    assert schedule_due_reminders(now=due_1h - timedelta(seconds=1))["emails"] == 0
    assert schedule_due_reminders(now=due_1h)["emails"] == 1
    assert _reminders() == [("early@example.com", 1440), ("early@example.com", 60)]


def test_running_twice_or_late_writes_nothing_new(ctx: Flask) -> None:
    starts = datetime.now(UTC) + timedelta(hours=30)
    program_id = _program_at(starts)
    _confirm_at(program_id, "a@example.com", datetime.now(UTC) - timedelta(days=1))
    due = starts - timedelta(hours=24)
    assert schedule_due_reminders(now=due)["emails"] == 1
    assert schedule_due_reminders(now=due)["emails"] == 0
    assert schedule_due_reminders(now=due + timedelta(minutes=10))["emails"] == 0
    assert db.session.scalar(select(func.count()).select_from(ReminderRun)) == 1
    assert len(_reminders()) == 1


def test_late_registrant_is_skipped_and_cancelled_get_nothing(ctx: Flask) -> None:
    starts = datetime.now(UTC) + timedelta(hours=30)
    due = starts - timedelta(hours=24)
    program_id = _program_at(starts)
    _confirm_at(program_id, "ontime@example.com", due - timedelta(minutes=5))
    _confirm_at(program_id, "late@example.com", due + timedelta(seconds=1))
    gone = _confirm_at(program_id, "gone@example.com", due - timedelta(days=1))
    cancel_registration(gone, actor=Actor.participant())
    schedule_due_reminders(now=due + timedelta(seconds=5))
    assert [r for r, _ in _reminders()] == ["ontime@example.com"]


def test_reminder_that_can_no_longer_arrive_in_time_expires(ctx: Flask, smtp: object) -> None:
    starts = datetime.now(UTC) + timedelta(seconds=2)
    program_id = _program_at(starts, deadline=starts - timedelta(seconds=1))
    _confirm_at(program_id, "a@example.com", datetime.now(UTC) - timedelta(days=2))
    schedule_due_reminders(now=starts - timedelta(minutes=30))
    ids = list(db.session.scalars(select(Email.id).where(Email.kind == "reminder")))
    assert len(ids) == 2  # the 24 h and the 1 h reminder both fell due
    import time

    time.sleep(2.5)
    assert deliver_emails(ids) == dict.fromkeys(ids, "expired")
    errors = set(db.session.scalars(select(Email.last_error).where(Email.id.in_(ids))))
    assert errors == {"not sent: the session had already started"}


def test_rescheduled_session_gets_an_update_and_reminders_follow_the_new_time(ctx: Flask) -> None:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    program_id = _program_at(starts)
    _confirm_at(program_id, "a@example.com", datetime.now(UTC) - timedelta(days=1))
    moved = starts + timedelta(days=2)
    data = program_data(timezone="Europe/Berlin", **starting_at(moved, deadline=starts - timedelta(hours=1)))
    data["sessions"][0]["join_url"] = "https://zoom.us/j/2"
    import_program(data, actor=Actor.system())
    [update_email] = db.session.scalars(select(Email).where(Email.kind == "session_updated"))
    assert update_email.recipient == "a@example.com"
    assert schedule_due_reminders(now=starts - timedelta(hours=24))["emails"] == 0  # the old time
    assert schedule_due_reminders(now=moved - timedelta(hours=24))["emails"] == 1  # the new time
