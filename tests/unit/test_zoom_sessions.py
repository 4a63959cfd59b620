"""Sessions' webinars and meetings in Zoom (services/zoom/sessions.py) against the fake
Zoom: created once with registration on and Zoom's emails off, found rather than created
twice after a lost answer, kept in step with the editor, deleted silently, and every
failure waited out or shown to the organiser."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import program_data, registration_input
from tests.fakes.zoom import FakeZoom
from webapp.extensions import db
from webapp.models import Email, Program, ProgramSession, ZoomRegistrant, utcnow
from webapp.services.audit import Actor
from webapp.services.errors import ProgramImportError
from webapp.services.programs import import_program, program_file, update_program
from webapp.services.registrations import register_participant
from webapp.services.zoom import sessions as zoom_objects
from webapp.services.zoom.registrants import PersonalLinks


def _created_program(app: Flask, fake_zoom: FakeZoom, zoom_type: str = "webinar", **overrides: Any) -> int:
    app.config.update(fake_zoom.config())
    data = program_data(**overrides)
    for session in data["sessions"]:
        session.pop("join_url", None)
        session |= {"zoom_create": True, "zoom_type": zoom_type}
    with app.app_context():
        program, _ = import_program(data, actor=Actor.system())
        return program.id


def _session(program_id: int) -> ProgramSession:
    program = db.session.get(Program, program_id)
    assert program is not None
    db.session.refresh(program)
    return program.sessions[0]


def _sync(app: Flask) -> dict[str, int]:
    with app.app_context():
        return zoom_objects.sync_sessions()


def test_the_worker_creates_the_webinar_once_with_registration_on_and_zooms_emails_off(
    app: Flask, fake_zoom: FakeZoom
) -> None:
    program_id = _created_program(app, fake_zoom)
    with app.app_context():
        session = _session(program_id)
        assert (session.zoom_sync, session.zoom_meeting_id) == ("create", None)
        assert program_file(session.program)["sessions"][0]["zoom_create"] is True
    assert fake_zoom.calls() == []  # saving never calls Zoom
    assert _sync(app) == {"done": 1, "retry": 0, "failed": 0}
    [created] = fake_zoom.objects("webinar")
    with app.app_context():
        session = _session(program_id)
        body = created.body
        assert body["topic"] == "Lithium-ion basics"  # one session: the program's title
        assert body["type"] == 5
        assert body["start_time"] == session.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert (body["duration"], body["timezone"], body["agenda"]) == (120, "Asia/Karachi", "A short training.")
        assert body["settings"] == {
            "approval_type": 0,
            "registrants_confirmation_email": False,
            "registrants_email_notification": False,
        }
        assert session.zoom_meeting_id == created.id and session.zoom_created and session.zoom_sync is None
        # Zoom's registration link is the static fallback of a session without one.
        assert session.join_url == f"https://fake.zoom.test/w/register/{created.id}"
        assert zoom_objects.sync_state(session).kind == "created"
        assert "zoom_create" not in program_file(session.program)["sessions"][0]
    # Run again (a task delivered twice, the sweep): nothing more is created.
    assert _sync(app) == {"done": 0, "retry": 0, "failed": 0}
    with app.app_context():
        assert zoom_objects.sync_sessions([_session(program_id).id]) == {"done": 0, "retry": 0, "failed": 0}
    assert len(fake_zoom.calls("POST", "/v2/users/me/webinars")) == 1


def test_a_program_of_several_sessions_names_each_and_a_meeting_is_type_2(
    app: Flask, fake_zoom: FakeZoom, make_program: Callable[..., int]
) -> None:
    data = program_data()
    second = dict(data["sessions"][0], title="Packs")
    starts = (utcnow() + timedelta(days=11)).replace(microsecond=0)
    second["starts_at"] = starts.isoformat()
    second["ends_at"] = (starts + timedelta(hours=1, minutes=30, seconds=1)).isoformat()
    program_id = _created_program(app, fake_zoom, "meeting", sessions=[data["sessions"][0], second])
    _sync(app)
    topics = sorted((o.body["topic"], o.body["type"], o.body["duration"]) for o in fake_zoom.objects("meeting"))
    assert topics == [("Lithium-ion basics: Packs", 2, 91), ("Lithium-ion basics: Webinar", 2, 120)]
    assert program_id


def test_a_lost_answer_is_found_in_zoom_instead_of_creating_twice(app: Flask, fake_zoom: FakeZoom) -> None:
    program_id = _created_program(app, fake_zoom)
    app.config["ZOOM_TIMEOUT"] = 2.0
    fake_zoom.lose_next_create_answer()
    assert _sync(app) == {"done": 0, "retry": 1, "failed": 0}
    assert len(fake_zoom.objects("webinar")) == 1  # Zoom made it; we never heard
    with app.app_context():
        session = _session(program_id)
        assert session.zoom_sync == "creating" and session.zoom_meeting_id is None
        assert zoom_objects.sync_state(session).kind == "waiting"
        session.zoom_sync_next_at = utcnow() - timedelta(seconds=1)  # the backoff is over
        db.session.commit()
    assert _sync(app)["done"] == 1
    [only] = fake_zoom.objects("webinar")
    with app.app_context():
        assert _session(program_id).zoom_meeting_id == only.id
    assert len(fake_zoom.calls("POST", "/v2/users/me/webinars")) == 1
    assert fake_zoom.calls("GET", "/v2/users/me/webinars")


def test_a_create_in_flight_is_left_to_its_worker(app: Flask, fake_zoom: FakeZoom) -> None:
    program_id = _created_program(app, fake_zoom)
    with app.app_context():
        session = _session(program_id)
        # Another worker claimed it a moment ago and is waiting for Zoom's answer.
        session.zoom_sync, session.zoom_sync_next_at = "creating", utcnow() + zoom_objects.CREATING_LEASE
        db.session.commit()
    assert _sync(app) == {"done": 0, "retry": 0, "failed": 0}
    assert fake_zoom.calls() == []


def test_an_unchanged_save_calls_zoom_for_nothing_and_a_new_title_or_time_is_patched(
    app: Flask, fake_zoom: FakeZoom
) -> None:
    program_id = _created_program(app, fake_zoom)
    _sync(app)
    before = len(fake_zoom.calls())
    with app.app_context():
        program = db.session.get(Program, program_id)
        update_program(program_id, program_file(program), actor=Actor.system())
        assert _session(program_id).zoom_sync is None
    assert _sync(app) == {"done": 0, "retry": 0, "failed": 0}
    assert len(fake_zoom.calls()) == before
    with app.app_context():
        program = db.session.get(Program, program_id)
        data = program_file(program)
        data["title"] = "Lithium-ion basics, second run"
        data["sessions"][0]["ends_at"] = (_session(program_id).starts_at + timedelta(hours=3)).isoformat()
        update_program(program_id, data, actor=Actor.system())
        assert zoom_objects.sync_state(_session(program_id)).action == "update"
    assert _sync(app)["done"] == 1
    [patched] = fake_zoom.objects("webinar")
    assert (patched.body["topic"], patched.body["duration"]) == ("Lithium-ion basics, second run", 180)
    assert len(fake_zoom.calls("PATCH")) == 1


def test_cancelling_deletes_only_what_rollcall_created_and_zoom_emails_nobody(app: Flask, fake_zoom: FakeZoom) -> None:
    program_id = _created_program(app, fake_zoom, "meeting")
    _sync(app)
    with app.app_context():
        program = db.session.get(Program, program_id)
        data = program_file(program)
        typed = dict(data["sessions"][0], title="Typed", zoom_meeting_id="81234567890", join_url="https://zoom.us/j/1")
        typed.pop("zoom_create", None)
        later = utcnow() + timedelta(days=12)
        typed |= {"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=1)).isoformat()}
        update_program(program_id, data | {"sessions": [data["sessions"][0], typed]}, actor=Actor.system())
        assert zoom_objects.sync_state(_session(program_id)).action == "update"  # its topic now names it
        _sync(app)
        data = program_file(db.session.get(Program, program_id))
        # The created session is removed; then the typed one too (a new one replaces it).
        update_program(program_id, data | {"sessions": [data["sessions"][1]]}, actor=Actor.system())
        data = program_file(db.session.get(Program, program_id))
        new = dict(data["sessions"][0], title="New", join_url="https://zoom.us/j/2")
        update_program(program_id, data | {"sessions": [data["sessions"][0], new]}, actor=Actor.system())
        data = program_file(db.session.get(Program, program_id))
        update_program(program_id, data | {"sessions": [data["sessions"][1]]}, actor=Actor.system())
    _sync(app)
    [deleted] = fake_zoom.objects("meeting", deleted=True)
    assert deleted.deleted_with == {"schedule_for_reminder": "false", "cancel_meeting_reminder": "false"}
    assert [path for _, path in fake_zoom.calls("DELETE")] == [f"/v2/meetings/{deleted.id}"]  # not the typed one


def test_a_webinar_is_deleted_without_reminding_registrants(app: Flask, fake_zoom: FakeZoom) -> None:
    program_id = _created_program(app, fake_zoom)
    _sync(app)
    with app.app_context():
        data = program_file(db.session.get(Program, program_id))
        new = dict(data["sessions"][0], title="Other", join_url="https://zoom.us/j/2")
        new.pop("zoom_meeting_id"), new.pop("zoom_type")
        new |= {"starts_at": (utcnow() + timedelta(days=11)).isoformat()}
        new |= {"ends_at": (utcnow() + timedelta(days=11, hours=1)).isoformat()}
        update_program(program_id, data | {"sessions": [data["sessions"][0], new]}, actor=Actor.system())
        data = program_file(db.session.get(Program, program_id))
        update_program(program_id, data | {"sessions": [data["sessions"][1]]}, actor=Actor.system())
    _sync(app)
    [deleted] = fake_zoom.objects("webinar", deleted=True)
    assert deleted.deleted_with == {"cancel_webinar_reminder": "false"}


def test_a_429_waits_as_zoom_says_and_a_refusal_waits_for_the_organisers_retry(app: Flask, fake_zoom: FakeZoom) -> None:
    program_id = _created_program(app, fake_zoom)
    fake_zoom.fail_next(429, retry_after="120")
    assert _sync(app)["retry"] == 1
    with app.app_context():
        session = _session(program_id)
        assert session.zoom_sync == "create"  # a 429 created nothing: no search needed
        wait = (session.zoom_sync_next_at - utcnow()).total_seconds()
        assert 100 < wait <= 120
        session.zoom_sync_next_at = None
        db.session.commit()
    fake_zoom.fail_next(400)
    assert _sync(app)["failed"] == 1
    with app.app_context():
        state = zoom_objects.sync_state(_session(program_id))
        assert (state.kind, state.action) == ("failed", "create") and "HTTP 400" in state.error
    assert _sync(app) == {"done": 0, "retry": 0, "failed": 0}  # given up until asked
    with app.app_context():
        assert not zoom_objects.request_retry(program_id + 1, _session(program_id).id)  # another program's id
        assert zoom_objects.request_retry(program_id, _session(program_id).id)
    assert _sync(app)["done"] == 1
    assert len(fake_zoom.objects("webinar")) == 1


def test_without_zoom_a_file_asking_to_create_is_refused_naming_the_field(app: Flask) -> None:
    data = program_data()
    data["sessions"][0] |= {"zoom_create": True, "join_url": ""}
    with app.app_context(), pytest.raises(ProgramImportError) as refused:
        import_program(data, actor=Actor.system())
    assert refused.value.problems == [
        "sessions[1].zoom_create: Zoom is not connected; type the session's Zoom link instead"
    ]
    with app.app_context():
        assert db.session.scalar(select(Program.id)) is None


def test_a_confirmation_waits_for_the_webinar_being_created_then_carries_a_personal_link(
    app: Flask, fake_zoom: FakeZoom
) -> None:
    program_id = _created_program(app, fake_zoom)
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.participant())
        email = db.session.scalars(select(Email).where(Email.kind == "confirmation")).one()
        links = PersonalLinks()
        try:
            wait = links.before_sending(email)
        finally:
            links.close()
        assert wait is not None and "create" in wait.reason
        assert wait.until <= email.created_at + timedelta(minutes=float(app.config["ZOOM_FALLBACK_MINUTES"]))
    _sync(app)
    with app.app_context():
        email = db.session.scalars(select(Email).where(Email.kind == "confirmation")).one()
        links = PersonalLinks()
        try:
            assert links.before_sending(email) is None
        finally:
            links.close()
        [place] = db.session.scalars(select(ZoomRegistrant)).all()
        assert place.status == "added" and place.join_url
