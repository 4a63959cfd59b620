"""Beat's sweep for lost attendance fetches: which ended Zoom sessions it hands to the
worker, and what the organiser reads about each fetch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask

from tests.conftest import program_data
from tests.fakes.zoom import FakeZoom
from webapp.extensions import db
from webapp.models import Program, ProgramSession, utcnow
from webapp.services import attendance
from webapp.services.audit import Actor
from webapp.services.programs import import_program


def _sessions(app: Flask, ends_ago: list[timedelta]) -> list[int]:
    data = program_data()
    now = utcnow().replace(microsecond=0)
    data["registration_deadline"] = (now - max(ends_ago) - timedelta(days=2)).isoformat()
    data["sessions"] = [
        {
            "title": f"S{i}",
            "starts_at": (now - ago - timedelta(hours=1)).isoformat(),
            "ends_at": (now - ago).isoformat(),
            "zoom_meeting_id": f"8100000000{i}",
        }
        for i, ago in enumerate(ends_ago)
    ]
    with app.app_context():
        program, _ = import_program(data, actor=Actor.system())
        return [s.id for s in program.sessions]


@pytest.fixture
def sent(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[object]]]:
    """The tasks handed to the broker (name, args), kept here instead."""
    tasks: list[tuple[str, list[object]]] = []
    monkeypatch.setattr(app.extensions["celery"], "send_task", lambda name, args=None, **kw: tasks.append((name, args)))
    return tasks


def test_the_sweep_takes_ended_unfetched_zoom_sessions_within_its_window_once(
    app: Flask, fake_zoom: FakeZoom, sent: list[tuple[str, list[object]]]
) -> None:
    app.config.update(fake_zoom.config())
    ids = _sessions(app, [timedelta(days=9), timedelta(hours=2), timedelta(minutes=40), timedelta(minutes=10)])
    with app.app_context():
        assert attendance.sweep_attendance() == 2
        # Promised once: the next sweep finds them leased while their tasks wait.
        assert attendance.sweep_attendance() == 0
    # Sessions in start order: ended 9 days, 2 hours, 40 and 10 minutes ago.
    assert sorted(args[0] for _, args in sent) == ids[1:3]  # type: ignore[index]
    assert {name for name, _ in sent} == {attendance.FETCH_TASK}


def test_the_sweep_is_the_retry_of_a_failed_fetch_when_its_backoff_says(
    app: Flask, fake_zoom: FakeZoom, sent: list[tuple[str, list[object]]]
) -> None:
    """A fetch that failed soon after the end (the ended event's: Zoom has no report
    yet) is retried by the sweep when its backoff is over, not 30 minutes after the end;
    the task itself never retries (`worker.tasks.zoom.fetch_attendance`)."""
    app.config.update(fake_zoom.config())
    # In start order: ended 6 and 5 minutes ago; booked to end in 40 minutes but ended
    # early (Zoom said so); booked to end in 50 minutes and still running.
    ids = _sessions(app, [timedelta(minutes=5), timedelta(minutes=6), -timedelta(minutes=40), -timedelta(minutes=50)])
    with app.app_context():
        now = utcnow()
        program = db.session.scalars(db.select(Program)).one()
        due, later, ended_early, running = program.sessions
        for session in (due, ended_early, running):  # each tried once, its backoff over
            session.attendance_attempts, session.attendance_next_at = 1, now - timedelta(seconds=1)
        later.attendance_attempts, later.attendance_next_at = 2, now + timedelta(minutes=2)
        ended_early.zoom_ended_at = now - timedelta(minutes=3)
        db.session.commit()
        assert attendance.sweep_attendance() == 2
    assert sorted(sent) == [(attendance.FETCH_TASK, [ids[0]]), (attendance.FETCH_TASK, [ids[2]])]


def test_a_failed_fetch_task_records_the_failure_and_leaves_the_retry_to_the_sweep(
    app: Flask, fake_zoom: FakeZoom
) -> None:
    """Zoom has no report yet (404): the task returns (no Celery retry of its own, which
    would ask Zoom a second time beside the sweep) and the session says when to try again."""
    from worker.tasks.zoom import fetch_attendance

    app.config.update(fake_zoom.config())
    [session_id] = _sessions(app, [timedelta(minutes=2)])
    with app.app_context():
        # `run`: the task's body (with any retry Celery wraps around it) in this app.
        assert fetch_attendance.run(session_id) == {"matched": 0, "unmatched": 0, "failed": 1}
        session = db.session.get(ProgramSession, session_id)
        assert session is not None and session.attendance_attempts == 1
        assert session.attendance_next_at is not None and session.attendance_next_at > utcnow()
        assert "no report yet" in (session.attendance_error or "")
    assert len(fake_zoom.calls("GET", "/v2/report/")) == 1


def test_without_zoom_the_sweep_does_nothing(app: Flask, make_program: Callable[..., int]) -> None:
    with app.app_context():
        assert attendance.sweep_attendance() == 0


def test_what_the_organiser_reads_about_a_fetch(app: Flask, fake_zoom: FakeZoom) -> None:
    app.config.update(fake_zoom.config())
    _sessions(app, [timedelta(days=8), timedelta(hours=1)])
    with app.app_context():
        now = utcnow()
        program = db.session.scalars(db.select(Program)).one()
        first, second = program.sessions
        assert attendance.fetch_state(second, now).kind == "waiting"
        second.attendance_error, second.attendance_next_at = "HTTP 404: no report", now + timedelta(minutes=5)
        assert attendance.fetch_state(second, now) == attendance.FetchState(
            "error", now + timedelta(minutes=5), "HTTP 404: no report"
        )
        first.attendance_error = "HTTP 403: scopes"
        assert attendance.fetch_state(first, now).when is None  # past the window: no more tries
        second.attendance_fetched_at = now
        assert attendance.fetch_state(second, now).kind == "fetched"
        second.zoom_meeting_id = None
        assert attendance.fetch_state(second, now).kind == ""
