"""Calendar files (`webapp.services.ics`) built from plain objects: no database, no
server. The file a registrant downloads is tested through the pages."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from icalendar import Calendar

from webapp.services.ics import build_calendar, event_title

PROGRAM = SimpleNamespace(
    title="Lithium-ion batteries",
    summary="A short training.",
    description="",
    organiser_name="",
    language="en",
    translations={},
)


def session(**overrides: object) -> SimpleNamespace:
    fields: dict[str, object] = {
        "program": PROGRAM,
        "title": "Day 1",
        "ics_uid": "session-1@rollcall.test",
        "ics_sequence": 2,
        "starts_at": datetime(2030, 9, 28, 9, 0, tzinfo=UTC),
        "ends_at": datetime(2030, 9, 28, 12, 0, tzinfo=UTC),
        "join_url": "https://zoom.us/j/81234567890",
        "passcode": "liion6",
        "translations": {},
    }
    return SimpleNamespace(**(fields | overrides))


def events(ics: bytes) -> list:
    return Calendar.from_ical(ics).walk("VEVENT")


def test_an_event_per_session_with_its_stable_uid_and_times_in_utc() -> None:
    first, second = events(build_calendar([session(), session(ics_uid="session-2@rollcall.test")], include_link=True))
    assert str(first["UID"]) == "session-1@rollcall.test" and str(second["UID"]) == "session-2@rollcall.test"
    assert first["SEQUENCE"] == 2 and str(first["STATUS"]) == "CONFIRMED"
    assert first.decoded("DTSTART") == datetime(2030, 9, 28, 9, 0, tzinfo=UTC)
    assert str(first["SUMMARY"]) == "Lithium-ion batteries: Day 1"


def test_the_join_link_only_when_asked_for() -> None:
    (linked,) = events(build_calendar([session()], include_link=True))
    assert str(linked["LOCATION"]) == "https://zoom.us/j/81234567890"
    assert "Passcode: liion6" in str(linked["DESCRIPTION"])
    ics = build_calendar([session()], include_link=False)
    assert b"zoom.us" not in ics and b"liion6" not in ics
    assert "A short training." in str(events(ics)[0]["DESCRIPTION"])


def test_a_cancellation_raises_the_sequence_so_calendars_replace_the_event() -> None:
    calendar = Calendar.from_ical(build_calendar([session()], method="CANCEL", include_link=False))
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "CANCEL"
    assert event["SEQUENCE"] == 3 and str(event["STATUS"]) == "CANCELLED"


def test_the_event_title_does_not_repeat_the_program_title() -> None:
    program = "Powering Belt and Road: Lithium-ion batteries"
    assert event_title(program, program + " (live webinar)") == program + " (live webinar)"
    assert event_title(program, "Webinar") == program + ": Webinar"
    assert event_title(program, "lithium-ion batteries") == program
    assert event_title(program, program) == program
