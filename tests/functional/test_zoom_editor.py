"""The editor's "Create in Zoom": offered only with Zoom connected, saved without calling
Zoom, and each session's Zoom state (waiting, created, refused with a retry) shown to the
organiser in words on the editor and the program page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select

from tests.fakes.zoom import FakeZoom
from tests.functional.helpers import csrf_token, sign_in
from tests.functional.test_program_editor import _form
from webapp.extensions import db
from webapp.models import Program, ProgramSession, utcnow
from webapp.services.zoom import sessions as zoom_objects

CHECKBOX = "Create this webinar or meeting in Zoom"


def test_without_zoom_the_editor_does_not_offer_to_create_in_zoom(app: Flask) -> None:
    client = sign_in(app, admin=True)
    page = client.get("/organiser/programs/new").get_data(as_text=True)
    assert CHECKBOX not in page


def test_create_in_zoom_from_the_editor_then_the_states_the_organiser_reads(app: Flask, fake_zoom: FakeZoom) -> None:
    app.config.update(fake_zoom.config())
    client = sign_in(app, admin=True)
    page = client.get("/organiser/programs/new").get_data(as_text=True)
    assert CHECKBOX in page
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    data = _form(csrf_token(page), starts, **{"sessions-0-join_url": "", "sessions-0-zoom_create": "y"})
    response = client.post("/organiser/programs/new", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert fake_zoom.calls() == []  # the request never calls Zoom
    with app.app_context():
        program = db.session.scalar(select(Program))
        program_id, session_id = program.id, program.sessions[0].id
    overview = client.get(f"/organiser/programs/{program_id}/").get_data(as_text=True)
    assert "Sessions in Zoom" in overview and "Waiting for Zoom to create it." in overview
    editor = client.get(f"/organiser/programs/{program_id}/edit").get_data(as_text=True)
    assert "Waiting for Zoom to create it." in editor
    assert re.search(r"<input checked[^>]*name=\"sessions-0-zoom_create\"", editor)

    # Zoom refuses: the organiser reads why, and tries again.
    fake_zoom.fail_next(400)
    with app.app_context():
        zoom_objects.sync_sessions()
    overview = client.get(f"/organiser/programs/{program_id}/").get_data(as_text=True)
    assert "Zoom did not create it." in overview and "HTTP 400" in overview and "Try again now" in overview
    retry = client.post(
        f"/organiser/programs/{program_id}/sessions/{session_id}/zoom-retry",
        data={"csrf_token": csrf_token(overview)},
        follow_redirects=True,
    )
    assert "Asking Zoom again. Reload this page in a minute." in retry.get_data(as_text=True)
    with app.app_context():
        zoom_objects.sync_sessions()
        session = db.session.get(ProgramSession, session_id)
        zoom_id = session.zoom_meeting_id
    overview = client.get(f"/organiser/programs/{program_id}/").get_data(as_text=True)
    assert f"Created in Zoom by Rollcall (ID {zoom_id})." in overview
    assert "Attendance from Zoom: waiting for the session to end" in " ".join(overview.split())
    # An organiser reading in another language sees the session's title in it.
    with app.app_context():
        session = db.session.get(ProgramSession, session_id)
        session.translations = {"ru": {"title": "Основы хранения"}}
        db.session.commit()
    overview_ru = client.get(f"/organiser/programs/{program_id}/?lang=ru").get_data(as_text=True)
    assert "Основы хранения" in overview_ru.split('id="zoom-sessions-title"')[1]
    client.get(f"/organiser/programs/{program_id}/?lang=en")  # the choice is remembered
    editor = client.get(f"/organiser/programs/{program_id}/edit").get_data(as_text=True)
    assert f"Created in Zoom by Rollcall (ID {zoom_id})." in editor
    assert CHECKBOX not in editor  # it has its ID now
    assert f'value="https://fake.zoom.test/w/register/{zoom_id}"' in editor  # the fallback link

    # Saving the editor as it is: Zoom is not called.
    calls = len(fake_zoom.calls())
    form = _form(
        csrf_token(editor),
        starts,
        **{
            "sessions-0-join_url": f"https://fake.zoom.test/w/register/{zoom_id}",
            "sessions-0-zoom_meeting_id": zoom_id,
            "sessions-0-zoom_type": "webinar",
        },
    )
    assert client.post(f"/organiser/programs/{program_id}/edit", data=form).status_code == 303
    with app.app_context():
        assert zoom_objects.sync_sessions() == {"done": 0, "retry": 0, "failed": 0}
    assert len(fake_zoom.calls()) == calls
    # A new title is sent to Zoom.
    form["title"] = "Grid storage, advanced"
    assert client.post(f"/organiser/programs/{program_id}/edit", data=form).status_code == 303
    overview = client.get(f"/organiser/programs/{program_id}/").get_data(as_text=True)
    assert "Waiting for Zoom to take the new title or times." in overview
    with app.app_context():
        assert zoom_objects.sync_sessions()["done"] == 1
    assert fake_zoom.objects("webinar")[0].body["topic"] == "Grid storage, advanced"


def test_a_typed_zoom_id_is_never_changed_and_the_editor_says_so(app: Flask, fake_zoom: FakeZoom) -> None:
    app.config.update(fake_zoom.config())
    client = sign_in(app, admin=True)
    page = client.get("/organiser/programs/new").get_data(as_text=True)
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    data = _form(csrf_token(page), starts, **{"sessions-0-zoom_meeting_id": "81234567890"})
    assert client.post("/organiser/programs/new", data=data).status_code == 303
    with app.app_context():
        program_id = db.session.scalar(select(Program.id))
    editor = client.get(f"/organiser/programs/{program_id}/edit").get_data(as_text=True)
    assert "Rollcall did not create this Zoom webinar or meeting, so it never changes or deletes it" in editor
    assert CHECKBOX not in editor
    # Another program's or an absurd session id: a message or a 404, never an error.
    token = csrf_token(editor)
    answer = client.post(f"/organiser/programs/{program_id}/sessions/2147483647/zoom-retry", data={"csrf_token": token})
    assert answer.status_code == 303
    assert client.post(f"/organiser/programs/{program_id}/sessions/99999999999/zoom-retry").status_code in (400, 404)
    assert utcnow()
