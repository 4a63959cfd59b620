"""Importing programs from JSON: create, update by slug, a refused file changing nothing,
the CLI, the demo. What a file may hold is `test_program_file.py` (no database)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import program_data
from webapp.extensions import db
from webapp.models import Organiser, Program, ProgramSession
from webapp.services.audit import Actor
from webapp.services.errors import ProgramImportError
from webapp.services.programs import availability, import_program, seed_demo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_import_creates_program_with_sessions_in_utc(ctx: Flask) -> None:
    program, created = import_program(
        program_data(
            registration_deadline="2030-09-26T23:59:00+05:00",
            sessions=[
                {
                    "title": "Day 1",
                    "starts_at": "2030-09-28T14:00:00+05:00",
                    "ends_at": "2030-09-28T17:00:00+05:00",
                    "join_url": "https://zoom.us/j/1",
                }
            ],
        ),
        actor=Actor.system(),
    )
    assert created
    assert program.registration_deadline == datetime(2030, 9, 26, 18, 59, tzinfo=UTC)
    assert program.sessions[0].starts_at == datetime(2030, 9, 28, 9, 0, tzinfo=UTC)
    assert program.reminder_minutes == [1440, 60]


def test_import_updates_by_slug_and_keeps_calendar_uid(ctx: Flask) -> None:
    program, _ = import_program(program_data(), actor=Actor.system())
    uid = program.sessions[0].ics_uid
    data = program_data(title="Renamed", capacity=20)
    data["sessions"][0]["join_url"] = "https://zoom.us/j/999"
    updated, created = import_program(data, actor=Actor.system())
    assert not created and updated.id == program.id
    assert updated.title == "Renamed" and updated.capacity == 20
    assert updated.sessions[0].ics_uid == uid
    assert updated.sessions[0].ics_sequence == 1
    assert db.session.scalar(select(func.count()).select_from(Program)) == 1


def test_every_problem_is_reported_at_once_and_nothing_changes(ctx: Flask) -> None:
    import_program(program_data(), actor=Actor.system())
    data = program_data(title="Changed", timezone="Nowhere/Land")
    data["sessions"][0]["ends_at"] = data["sessions"][0]["starts_at"]
    data["sessions"][0]["join_url"] = "javascript:alert(1)"
    with pytest.raises(ProgramImportError) as excinfo:
        import_program(data, actor=Actor.system())
    problems = excinfo.value.problems
    assert any("timezone" in p for p in problems)
    assert any("sessions[1].ends_at: must be after starts_at" in p for p in problems)
    assert any("sessions[1].join_url" in p for p in problems)
    db.session.rollback()
    assert db.session.scalar(select(Program.title)) == "Lithium-ion basics"


def test_cli_imports_the_example_programs(app: Flask) -> None:
    runner = app.test_cli_runner()
    for name in ("li-ion-training.json", "clean-energy-symposium.json", "approval-and-questions.json"):
        result = runner.invoke(args=["programs", "import", str(EXAMPLES / name)])
        assert result.exit_code == 0, result.output
        assert "Created program" in result.output
    result = runner.invoke(args=["programs", "import", str(EXAMPLES / "li-ion-training.json")])
    assert "Updated program 'powering-belt-and-road-li-ion'" in result.output
    with app.app_context():
        li_ion = db.session.scalar(select(Program).where(Program.slug == "powering-belt-and-road-li-ion"))
        assert li_ion is not None
        assert availability(li_ion).state == "closed"  # its dates are in 2022
        assert db.session.scalar(select(func.count()).select_from(ProgramSession)) == 6
        workshop = db.session.scalar(select(Program).where(Program.slug == "battery-factory-planning-workshop"))
        assert workshop.approval_required and [q["type"] for q in workshop.questions] == [
            "short_text",
            "single_choice",
            "multiple_choice",
            "long_text",
        ]


def test_cli_reports_every_problem_and_exits_non_zero(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(program_data(timezone="Atlantis/Capital", capacity=-3)))
    result = app.test_cli_runner().invoke(args=["programs", "import", str(bad)])
    assert result.exit_code == 1
    assert "nothing was changed" in result.output
    assert "timezone: 'Atlantis/Capital'" in result.output
    assert "capacity:" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = app.test_cli_runner().invoke(args=["programs", "import", str(broken)])
    assert result.exit_code != 0 and "not valid JSON (line 1" in result.output


def test_seed_demo_is_a_week_ahead_closing_two_days_before(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        program = db.session.scalar(select(Program))
        assert program.title == "Powering Belt and Road: Lithium-ion batteries"
        assert program.organiser_name == "BTBU-ECOSF Joint Training Center"
        assert program.capacity == 300 and program.waitlist_enabled and program.status == "published"
        [session] = program.sessions
        assert session.ends_at - session.starts_at == timedelta(hours=2)
        days_ahead = (session.starts_at - datetime.now(UTC)).total_seconds() / 86400
        assert 6 <= days_ahead <= 8
        assert timedelta(days=1) < session.starts_at - program.registration_deadline <= timedelta(days=2)
        assert availability(program).state == "open"
    again = app.test_cli_runner().invoke(args=["seed-demo"])
    assert again.exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Program)) == 1


def test_seed_demo_moves_a_stale_demo_forward(ctx: Flask) -> None:
    old = seed_demo(actor=Actor.system(), now=datetime.now(UTC) - timedelta(days=30))
    assert old.registration_deadline < datetime.now(UTC)
    fresh = seed_demo(actor=Actor.system())
    assert fresh.id == old.id and fresh.registration_deadline > datetime.now(UTC)


def test_organisers_create_command(app: Flask, make_program: Callable[..., int]) -> None:
    result = app.test_cli_runner().invoke(
        args=["organisers", "create", "--email", "Staff@Example.org", "--name", "Staff", "--password-stdin"],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        organiser = db.session.scalar(select(Organiser))
        assert organiser.email == "staff@example.org"
        assert organiser.password_hash.startswith("$argon2id$")
