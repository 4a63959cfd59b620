"""Times as people read them: every format names its zone (DESIGN Rule 7), never "None",
in every language, on pages, in the console and in emails."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import SMTPServer, registration_input, starting_at
from tests.functional.helpers import csrf_token, sign_in
from webapp.extensions import db
from webapp.models import Email, ProgramSession
from webapp.services.audit import Actor
from webapp.services.mailer import deliver_emails
from webapp.services.registrations import register_participant
from webapp.services.times import format_in_zone, zone_label

LOCALES = ("en", "zh", "ru", "tr", "fa")
WINTER = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
SUMMER = datetime(2027, 7, 15, 9, 0, tzinfo=UTC)

# (zone, instant, local wall clock, offset as the short GMT format writes it)
CASES = [
    ("Asia/Karachi", WINTER, "14:00", "+5"),
    ("Asia/Tehran", WINTER, "12:30", "+3:30"),
    ("Asia/Kathmandu", WINTER, "14:45", "+5:45"),
    ("America/St_Johns", WINTER, "05:30", "-3:30"),
    ("America/St_Johns", SUMMER, "06:30", "-2:30"),
    ("UTC", WINTER, "09:00", ""),
    ("Europe/Berlin", WINTER, "10:00", "+1"),
    ("Europe/Berlin", SUMMER, "11:00", "+2"),
]


PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def _as_written(clock: str, locale: str) -> str:
    """A wall clock as `locale` writes it: Persian in its own digits and, as CLDR's
    `H:mm` says, without a leading zero ("۵:۳۰"); every other locale here "05:30"."""
    if locale == "fa":
        return clock.removeprefix("0").translate(PERSIAN_DIGITS)
    return clock


def _offset_in(text: str, offset: str, locale: str) -> bool:
    """The offset as `text` writes it: Persian marks the sign left-to-right, writes
    minus as U+2212 and uses its own digits; every other locale here writes GMT+5."""
    if locale == "fa":
        if not offset:
            return text.endswith("گرینویچ")
        signed = offset.replace("-", "\u2212").translate(PERSIAN_DIGITS)
        return f"{signed} گرینویچ" in text.replace("\u200e", "")
    return text.endswith(f"GMT{offset}")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("zone", "instant", "clock", "offset"), CASES)
def test_every_named_format_names_the_zone_in_every_language(
    locale: str, zone: str, instant: datetime, clock: str, offset: str
) -> None:
    medium = format_in_zone(instant, zone, locale, "medium")
    time_only = format_in_zone(instant, zone, locale, "time")
    long = format_in_zone(instant, zone, locale, "long")
    clock = _as_written(clock, locale)
    for text in (medium, time_only, long):
        assert "None" not in text, text
        assert clock in text, text
    assert _offset_in(medium, offset, locale), medium
    assert _offset_in(time_only, offset, locale), time_only
    assert time_only.startswith(clock)
    # The long format names the zone in words where CLDR has a name, else the offset.
    long_zone = long.split(clock, 1)[1].strip()
    assert long_zone and not re.fullmatch(r"[+\-\d:]*", long_zone), long


def test_long_names_follow_daylight_saving_and_language() -> None:
    assert format_in_zone(WINTER, "Europe/Berlin", "en", "long").endswith("10:00 Central European Standard Time")
    assert format_in_zone(SUMMER, "Europe/Berlin", "en", "long").endswith("11:00 Central European Summer Time")
    assert format_in_zone(WINTER, "Asia/Karachi", "ru", "long").endswith("14:00 Пакистан, стандартное время")
    assert format_in_zone(WINTER, "Asia/Kathmandu", "en", "long").endswith("14:45 GMT+5:45")
    assert format_in_zone(WINTER, "Asia/Karachi", "no-such-locale", "medium") == "Fri, Jan 15, 2027, 14:00 GMT+5"


def test_public_page_and_console_show_named_zones(
    app: Flask, make_program: Callable[..., int], smtp: SMTPServer
) -> None:
    starts = datetime(2099, 2, 10, 9, 0, tzinfo=UTC)
    program_id = make_program(
        timezone="Asia/Kathmandu", **starting_at(starts, deadline=datetime.now(UTC) + timedelta(days=5))
    )
    with app.app_context():
        register_participant(program_id, registration_input(timezone="Asia/Tehran"), actor=Actor.participant())

    page = app.test_client().get("/programs/li-ion-basics").get_data(as_text=True)
    assert "None" not in page
    assert "14:45 – 16:45 GMT+5:45" in page  # 09:00-11:00 UTC in Kathmandu, the zone named once

    organiser = sign_in(app, admin=True)
    base = f"/organiser/programs/{program_id}"
    for path in (f"{base}/attendees", f"{base}/attendees/1", f"{base}/", "/organiser/"):
        response = organiser.get(path)
        console = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert "None" not in console, path
        assert "GMT+5:45" in console, path


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _deliver_pending(app: Flask) -> None:
    with app.app_context():
        ids = list(db.session.scalars(select(Email.id).where(Email.status == "pending").order_by(Email.id)))
        deliver_emails(ids)


def test_confirmation_and_reminder_emails_name_both_zones(
    app: Flask, make_program: Callable[..., int], smtp: SMTPServer
) -> None:
    from webapp.services.reminders import schedule_due_reminders

    starts = datetime(2099, 2, 10, 9, 0, tzinfo=UTC)
    program_id = make_program(**starting_at(starts, deadline=datetime.now(UTC) + timedelta(days=5)))
    with app.app_context():
        register_participant(program_id, registration_input(timezone="America/St_Johns"), actor=Actor.participant())
    _deliver_pending(app)
    [received] = smtp.handler.messages
    confirmation = _parse(received.content)
    text = confirmation.get_body(preferencelist=("plain",)).get_content()
    html = confirmation.get_body(preferencelist=("html",)).get_content()
    for part in (confirmation["Subject"], text, html):
        assert "None" not in part
    for part in (text, html):
        # 09:00 UTC: 05:30 in St John's (NST, -3:30) until 07:30, and 14:00 in Karachi.
        assert "05:30 – 07:30 Newfoundland Standard Time" in part
        assert "14:00 Pakistan Standard Time" in part

    smtp.handler.reset()
    with app.app_context():
        session = db.session.scalar(select(ProgramSession))
        schedule_due_reminders(now=session.starts_at - timedelta(hours=24))
    _deliver_pending(app)
    [received] = smtp.handler.messages
    reminder = _parse(received.content)
    assert reminder["Subject"] == "Reminder: Webinar starts Tue, Feb 10, 2099, 05:30 GMT-3:30"


def test_saving_the_editor_unchanged_keeps_times_to_the_second_and_emails_nobody(
    app: Flask, make_program: Callable[..., int], smtp: SMTPServer
) -> None:
    """The editor shows minutes; times saved with seconds must come back untouched."""
    starts = datetime(2099, 2, 10, 9, 0, 17, tzinfo=UTC)
    deadline = datetime(2099, 2, 8, 18, 59, 41, tzinfo=UTC)
    program_id = make_program(timezone="Asia/Karachi", **starting_at(starts, deadline=deadline))
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.participant())
    client = sign_in(app, admin=True)
    page = client.get(f"/organiser/programs/{program_id}/edit").get_data(as_text=True)
    assert 'value="2099-02-10T14:00"' in page and 'value="2099-02-08T23:59"' in page
    form = {
        "csrf_token": csrf_token(page),
        "title": "Lithium-ion basics",
        "slug": "li-ion-basics",
        "summary": "A short training, now with a lab tour.",
        "description": "## Topics",
        "organiser": "BTBU-ECOSF Joint Training Center",
        "timezone": "Asia/Karachi",
        "registration_deadline": "2099-02-08T23:59",
        "sessions-0-title": "Webinar",
        "sessions-0-starts_at": "2099-02-10T14:00",
        "sessions-0-ends_at": "2099-02-10T16:00",
        "sessions-0-join_url": "https://zoom.us/j/81234567890",
        "sessions-0-passcode": "liion6",
        "save": "1",
    }
    assert client.post(f"/organiser/programs/{program_id}/edit", data=form).status_code == 303
    with app.app_context():
        session = db.session.scalar(select(ProgramSession))
        program = session.program
        assert (session.starts_at, session.ends_at) == (starts, starts + timedelta(hours=2))
        assert program.registration_deadline == deadline and session.ics_sequence == 0
        assert list(db.session.scalars(select(Email.kind))) == ["confirmation"]

    # A time the organiser does change is read in the program's zone, to the minute.
    form["sessions-0-starts_at"] = "2099-02-10T15:00"
    form["sessions-0-ends_at"] = "2099-02-10T17:00"
    assert client.post(f"/organiser/programs/{program_id}/edit", data=form).status_code == 303
    with app.app_context():
        session = db.session.scalar(select(ProgramSession))
        assert session.starts_at == datetime(2099, 2, 10, 10, 0, tzinfo=UTC)
        assert session.program.registration_deadline == deadline
        assert sorted(db.session.scalars(select(Email.kind))) == ["confirmation", "session_updated"]


@pytest.mark.parametrize(
    ("zone", "locale", "expected"),
    [
        ("Asia/Karachi", "en", "Pakistan Time (Asia/Karachi)"),
        ("Asia/Tehran", "fa", "وقت ایران (Asia/Tehran)"),
        ("Asia/Tehran", "ru", "Иран (Asia/Tehran)"),
        ("Asia/Shanghai", "zh", "中国时间 (Asia/Shanghai)"),
        ("America/St_Johns", "tr", "Newfoundland Saati (America/St_Johns)"),
        # CLDR names no generic zone here: Babel's fallback said "Непал, летнее время"
        # (Nepal summer time) in Russian and "Unknown Region (UTC) Time" for UTC.
        ("Asia/Kathmandu", "ru", "GMT+5:45 (Asia/Kathmandu)"),
        ("Asia/Kathmandu", "fa", "\u200e+۵:۴۵ گرینویچ (Asia/Kathmandu)"),
        ("UTC", "en", "Coordinated Universal Time (UTC)"),
        ("UTC", "ru", "Всемирное координированное время (UTC)"),
        ("Not/A_Zone", "en", "Not/A_Zone"),
    ],
)
def test_a_zone_is_labelled_by_its_name_in_the_readers_language(zone: str, locale: str, expected: str) -> None:
    assert zone_label(zone, locale) == expected


def test_a_session_names_its_zone_once_unless_the_clock_or_the_day_changes_on_the_way() -> None:
    from webapp.services.times import format_span

    start, end = datetime(2026, 12, 10, 9, 0, tzinfo=UTC), datetime(2026, 12, 10, 11, 0, tzinfo=UTC)
    assert (
        format_span(start, end, "Asia/Tehran", "en") == "Thursday, December 10, 2026, 12:30 – 14:30 Iran Standard Time"
    )
    assert format_span(start, end, "Asia/Tehran", "zh") == "2026年12月10日星期四 12:30 – 14:30 伊朗标准时间"
    # Berlin's clocks go forward during this one: both ends in full, each season named.
    across = format_span(
        datetime(2027, 3, 28, 0, 30, tzinfo=UTC), datetime(2027, 3, 28, 1, 30, tzinfo=UTC), "Europe/Berlin"
    )
    assert across == (
        "Sunday, March 28, 2027, 01:30 Central European Standard Time – "
        "Sunday, March 28, 2027, 03:30 Central European Summer Time"
    )
    # Past midnight: the second day is written too.
    late = format_span(datetime(2026, 12, 10, 22, 0, tzinfo=UTC), end + timedelta(hours=14), "UTC")
    assert late.startswith("Thursday, December 10, 2026, 22:00") and "Friday, December 11, 2026, 01:00" in late
