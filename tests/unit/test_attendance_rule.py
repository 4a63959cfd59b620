"""The attendance rule: credited minutes against the program's threshold percent of its
sessions' length, and its SQL mirror (the list, exports, segments, certificates) proven
equal on a real database."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import registration_input
from webapp.extensions import db
from webapp.models import Attendance, Program, Registration, utcnow
from webapp.services.attendance import (
    attended,
    attended_condition,
    attended_program,
    credited_seconds,
    minutes_attended,
)
from webapp.services.audit import Actor
from webapp.services.registrations import register_participant

HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("minutes", "length", "percent", "expected"),
    [
        (45, HOUR, 75, True),  # exactly the threshold counts
        (44, HOUR, 75, False),  # one minute short does not
        (60, HOUR, 100, True),
        (59, HOUR, 100, False),
        (1, HOUR, 1, True),  # 0.6 minutes needed: one whole minute is enough
        (0, HOUR, 1, False),  # nobody attends with no minutes
        (0, timedelta(0), 75, False),
        (1, timedelta(0), 75, False),  # never stored: sessions end after they start
        (-5, HOUR, 1, False),
        (500, HOUR, 75, True),  # rejoins summed past the length: the whole session
        (68, timedelta(minutes=90), 75, True),  # 67.5 needed
        (67, timedelta(minutes=90), 75, False),
        # A length with seconds: 75% of 61 min 20 s is 46 min exactly.
        (46, timedelta(minutes=61, seconds=20), 75, True),
        (45, timedelta(minutes=61, seconds=20), 75, False),
    ],
)
def test_attended_at_the_edges(minutes: int, length: timedelta, percent: int, expected: bool) -> None:
    assert attended(minutes, length, percent) is expected


def test_default_threshold_is_75_percent() -> None:
    assert attended(45, HOUR) is True
    assert attended(44, HOUR) is False


MINUTES = {1: 60, 2: 90, 3: 45}  # three sessions' lengths in minutes


def _lengths(**minutes: int) -> dict[int, timedelta]:
    return {int(key[1:]): timedelta(minutes=value) for key, value in minutes.items()}


@pytest.mark.parametrize(
    ("spent", "percent", "expected"),
    [
        # 195 minutes in all; 75% is 146.25.
        ({1: 60, 2: 90}, 75, True),  # missed the shortest session: 150 minutes, 77%
        ({2: 90, 3: 45}, 75, False),  # missed the first: 135 minutes, 69%
        ({1: 60}, 75, False),  # one visit is not attending a three-session program
        ({1: 600, 3: 45}, 75, False),  # staying on for hours counts the session once: 105
        ({1: 60, 2: 52, 3: 35}, 75, True),  # 147 minutes
        ({1: 60, 2: 51, 3: 35}, 75, False),  # 146: short by a quarter minute
        ({}, 1, False),
        ({1: 2}, 1, True),  # 1.95 minutes needed
        ({1: 1}, 1, False),
        ({1: 60, 2: 90, 3: 45}, 100, True),
        ({1: 60, 2: 90, 3: 44}, 100, False),
        ({1: -30, 2: 90, 3: 45}, 50, True),  # a negative count credits nothing
    ],
)
def test_a_program_is_attended_when_its_credited_minutes_reach_the_threshold(
    spent: dict[int, int], percent: int, expected: bool
) -> None:
    assert attended_program(spent, _lengths(s1=60, s2=90, s3=45), percent) is expected


def test_credit_is_capped_at_the_sessions_length() -> None:
    assert credited_seconds(75, HOUR) == 3600
    assert credited_seconds(30, HOUR) == 1800
    assert credited_seconds(-1, HOUR) == 0


def test_the_sql_rule_agrees_with_the_pure_rule(app: Flask, make_program: Callable[..., int]) -> None:
    """Random minutes (over and under each session's length, some missing) for 40
    registrants in a program of three sessions and a cancelled fourth: for every
    threshold the SQL the readers use says what `attended_program` says, and the
    credited minutes match."""
    base = utcnow().replace(microsecond=0) + timedelta(days=10)
    sessions = []
    for index, length in enumerate([*MINUTES.values(), 30]):
        starts = base + timedelta(days=index)
        sessions.append(
            {
                "title": f"Part {index + 1}",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(minutes=length, seconds=20 if index == 1 else 0)).isoformat(),
                "join_url": "https://zoom.us/j/81234567890",
            }
        )
    program_id = make_program(sessions=sessions, registration_deadline=(base - timedelta(days=1)).isoformat())
    chance = random.Random(12)
    with app.app_context():
        for number in range(40):
            register_participant(
                program_id, registration_input(email=f"p{number}@example.org"), actor=Actor.participant()
            )
        program = db.session.get(Program, program_id)
        program.sessions[3].cancelled_at = utcnow()
        registrations = list(db.session.scalars(select(Registration.id).where(Registration.program_id == program_id)))
        spent: dict[int, dict[int, int]] = {}
        for registration_id in registrations:
            spent[registration_id] = {}
            for session in program.sessions:
                if chance.random() < 0.2:
                    continue
                minutes = chance.choice([0, 1, 30, 44, 45, 46, 59, 60, 61, 67, 68, 90, 91, 200])
                spent[registration_id][session.id] = minutes
                db.session.add(
                    Attendance(
                        registration_id=registration_id, session_id=session.id, minutes=minutes, source="zoom_report"
                    )
                )
        db.session.commit()
        lengths = {s.id: s.ends_at - s.starts_at for s in program.sessions if s.cancelled_at is None}
        for percent in (1, 33, 50, 75, 99, 100):
            program.attendance_threshold_percent = percent
            rows = db.session.execute(
                select(Registration.id, attended_condition(program), minutes_attended(program)).where(
                    Registration.program_id == program_id
                )
            ).all()
            for registration_id, sql_attended, sql_minutes in rows:
                mine = spent[registration_id]
                assert bool(sql_attended) is attended_program(mine, lengths, percent), (percent, mine)
                credited = sum(credited_seconds(mine.get(key, 0), length) for key, length in lengths.items())
                assert sql_minutes == credited // 60
