"""Checking a program file (`programs.validate_program_data`): what is accepted, and
every problem named by its field. Pure: no database, no server. That a refused file
changes nothing is `test_program_import.py`'s to show."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import program_data
from webapp.services.errors import ProgramImportError
from webapp.services.programs import validate_program_data

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def problems_in(data: object) -> list[str]:
    with pytest.raises(ProgramImportError) as excinfo:
        validate_program_data(data)
    return excinfo.value.problems


def test_times_with_offsets_become_utc_and_reminders_minutes() -> None:
    spec = validate_program_data(
        program_data(
            registration_deadline="2030-09-26T23:59:00+05:00",
            reminders=["2d", "30m"],
            sessions=[
                {
                    "title": "Day 1",
                    "starts_at": "2030-09-28T14:00:00+05:00",
                    "ends_at": "2030-09-28T17:00:00+05:00",
                    "join_url": "https://zoom.us/j/1",
                }
            ],
        )
    )
    assert spec.registration_deadline == datetime(2030, 9, 26, 18, 59, tzinfo=UTC)
    assert spec.sessions[0].starts_at == datetime(2030, 9, 28, 9, 0, tzinfo=UTC)
    assert spec.reminder_minutes == [2880, 30]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_example_file_is_valid(path: Path) -> None:
    spec = validate_program_data(json.loads(path.read_text()))
    assert spec.slug and spec.sessions


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not a known IANA time zone"),
        ({"registration_deadline": "2099-01-01T00:00:00+00:00"}, "must not be after the first session starts"),
        ({"registration_deadline": "2030-01-01T10:00:00"}, "has no UTC offset"),
        ({"registration_deadline": "next tuesday"}, "is not an ISO 8601 date and time"),
        ({"capacity": 0}, "capacity: must be a whole number of at least 1"),
        ({"status": "live"}, "status: must be one of"),
        ({"slug": "Bad Slug!"}, "slug: 'Bad Slug!' may contain only"),
        ({"colour": "blue"}, "colour: unknown field"),
        ({"sessions": []}, "sessions: at least one session is required"),
        ({"reminders": ["soon"]}, "reminders: 'soon' is not an offset"),
        ({"waitlist": "yes"}, "waitlist: must be true or false"),
        ({"attendance_threshold_percent": 0}, "attendance_threshold_percent: must be a whole number from 1 to 100"),
        ({"attendance_threshold_percent": 101}, "attendance_threshold_percent: must be a whole number from 1 to 100"),
        ({"attendance_threshold_percent": 75.5}, "attendance_threshold_percent: must be a whole number from 1 to 100"),
        ({"attendance_threshold_percent": "75"}, "attendance_threshold_percent: must be a whole number from 1 to 100"),
        ({"attendance_threshold_percent": True}, "attendance_threshold_percent: must be a whole number from 1 to 100"),
    ],
)
def test_invalid_files_are_refused_with_a_clear_message(change: dict, message: str) -> None:
    problems = problems_in(program_data(**change))
    assert any(message in problem for problem in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    data = program_data(timezone="Nowhere/Land")
    data["sessions"][0]["ends_at"] = data["sessions"][0]["starts_at"]
    data["sessions"][0]["join_url"] = "javascript:alert(1)"
    problems = problems_in(data)
    assert any("timezone" in p for p in problems)
    assert any("sessions[1].ends_at: must be after starts_at" in p for p in problems)
    assert any("sessions[1].join_url" in p for p in problems)


def test_a_file_that_is_not_one_object_is_refused_in_words() -> None:
    assert problems_in([program_data()]) == ["the file must contain one JSON object describing a program"]


def test_a_session_names_its_zoom_webinar_or_meeting() -> None:
    data = program_data()
    data["sessions"][0] |= {"zoom_meeting_id": 81234567890}
    spec = validate_program_data(data)
    assert (spec.sessions[0].zoom_meeting_id, spec.sessions[0].zoom_type) == ("81234567890", "webinar")
    data["sessions"][0]["zoom_type"] = "meeting"
    assert validate_program_data(data).sessions[0].zoom_type == "meeting"
    data["sessions"][0]["zoom_type"] = "town hall"
    assert problems_in(data) == ["sessions[1].zoom_type: must be webinar or meeting"]


def test_the_attendance_threshold_defaults_to_75_and_takes_1_to_100() -> None:
    assert validate_program_data(program_data()).attendance_threshold_percent == 75
    for percent in (1, 60, 100):
        spec = validate_program_data(program_data(attendance_threshold_percent=percent))
        assert spec.attendance_threshold_percent == percent
