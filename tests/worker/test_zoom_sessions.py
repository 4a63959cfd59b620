"""Zoom objects and the lost-fetch sweep through a real worker with beat and the fake
Zoom: a session saved with "Create in Zoom" gets its webinar from the worker, once; an
ended Zoom session whose ended event never came gets its attendance from beat's sweep,
waiting out Zoom's "no report yet"."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import program_data, registration_input
from tests.fakes.zoom import FakeZoom
from tests.worker.test_zoom_links import ZOOM_ID, _zoom_program, wait_until, zoom_worker  # noqa: F401
from webapp.extensions import db
from webapp.models import Attendance, Program, ProgramSession
from webapp.services.audit import Actor
from webapp.services.programs import import_program
from webapp.services.registrations import register_participant

pytestmark = pytest.mark.worker


def _session(app: Flask, program_id: int) -> ProgramSession:
    with app.app_context():
        session = db.session.scalars(select(ProgramSession).where(ProgramSession.program_id == program_id)).one()
        db.session.expunge(session)
        return session


def test_the_worker_creates_the_webinar_the_editor_asked_for_once(
    app: Flask,
    fake_zoom: FakeZoom,
    zoom_worker: Callable[..., object],  # noqa: F811 (the fixture, imported above)
) -> None:
    zoom_worker()
    app.config.update(fake_zoom.config())
    data = program_data()
    data["sessions"][0] |= {"join_url": "", "zoom_create": True}
    with app.app_context():
        program, _ = import_program(data, actor=Actor.system())
        program_id = program.id
    wait_until(lambda: _session(app, program_id).zoom_meeting_id, what="the webinar created by the worker")
    session = _session(app, program_id)
    [created] = fake_zoom.objects("webinar")
    assert session.zoom_meeting_id == created.id and session.zoom_created and session.zoom_sync is None
    assert created.body["settings"]["registrants_confirmation_email"] is False
    # Beat keeps sweeping: nothing is created twice.
    time.sleep(3)
    assert len(fake_zoom.calls("POST", "/v2/users/me/webinars")) == 1


def test_beat_fetches_the_attendance_of_an_ended_session_whose_event_never_came(
    app: Flask,
    fake_zoom: FakeZoom,
    make_program: Callable[..., int],
    zoom_worker: Callable[..., object],  # noqa: F811
) -> None:
    program_id = _zoom_program(make_program)
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.system())
        session = db.session.get(Program, program_id).sessions[0]
        now = datetime.now(UTC).replace(microsecond=0)
        # Ended an hour ago, and no ended event came.
        session.starts_at, session.ends_at = now - timedelta(hours=3), now - timedelta(hours=1)
        db.session.commit()
        session_id = session.id
    # Zoom has no report yet (404): the sweep waits and asks again.
    zoom_worker()
    wait_until(lambda: _session(app, program_id).attendance_attempts >= 1, what="a first, failed fetch")
    failed = _session(app, program_id)
    assert failed.attendance_fetched_at is None and "no report yet" in (failed.attendance_error or "")
    fake_zoom.add_participants("webinar", ZOOM_ID, [{"user_email": "ayesha@example.com", "duration": 100 * 60}])
    wait_until(lambda: _session(app, program_id).attendance_fetched_at is not None, what="the sweep's fetch")
    with app.app_context():
        assert db.session.scalars(select(Attendance.minutes).where(Attendance.session_id == session_id)).all() == [100]
    fetched = _session(app, program_id)
    assert fetched.attendance_error is None
    reports = len(fake_zoom.calls("GET", "/v2/report/"))
    time.sleep(3)  # fetched: the sweep leaves it alone
    assert len(fake_zoom.calls("GET", "/v2/report/")) == reports


def test_the_live_count_through_the_worker(
    app: Flask,
    fake_zoom: FakeZoom,
    make_program: Callable[..., int],
    zoom_worker: Callable[..., object],  # noqa: F811
) -> None:
    from tests.functional.helpers import sign_in
    from tests.functional.test_zoom_live import _event
    from tests.functional.test_zoom_webhook import SECRET, _post

    program_id = _zoom_program(make_program)
    now = datetime.now(UTC).replace(microsecond=0)
    with app.app_context():
        session = db.session.get(Program, program_id).sessions[0]
        session.starts_at, session.ends_at = now - timedelta(minutes=10), now + timedelta(minutes=50)
        db.session.commit()
    zoom_worker(ZOOM_WEBHOOK_SECRET_TOKEN=SECRET)
    app.config["ZOOM_WEBHOOK_SECRET_TOKEN"] = SECRET
    hook = app.test_client()
    organiser = sign_in(app, admin=True)
    _post(hook, _event("webinar.participant_left", now - timedelta(minutes=2), "li"))  # before its joined
    _post(hook, _event("webinar.participant_joined", now - timedelta(minutes=5), "ayesha"))
    _post(hook, _event("webinar.participant_joined", now - timedelta(minutes=4), "li"))

    def count() -> int:
        sessions = organiser.get(f"/organiser/programs/{program_id}/live").get_json()["sessions"]
        return sessions[0]["count"] if sessions else -1

    wait_until(lambda: count() == 1, what="the worker's live count")
    time.sleep(1)
    assert count() == 1
