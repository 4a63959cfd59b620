"""Attendance from Zoom through a real worker and the fake Zoom: the ended event and the
organiser's button read the participants report (every page), sum each person's stays,
match by registrant id then address, and running again replaces rather than adds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import registration_input
from tests.fakes.zoom import FakeZoom
from tests.functional.helpers import csrf_token, sign_in
from tests.worker.test_zoom_links import ZOOM_ID, _zoom_program, wait_until, zoom_worker  # noqa: F401
from webapp.extensions import db
from webapp.models import Attendance, Program, Registration, ZoomRegistrant
from webapp.services.audit import Actor
from webapp.services.registrations import register_participant
from webapp.services.zoom.webhooks import accept_event

pytestmark = pytest.mark.worker


def _minutes(app: Flask) -> dict[str, tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(Registration.email, Attendance.minutes, Attendance.source).join(
                Registration, Registration.id == Attendance.registration_id
            )
        ).all()
        return {email: (minutes, source) for email, minutes, source in rows}


def test_the_ended_event_and_the_button_record_minutes_once(
    app: Flask,
    fake_zoom: FakeZoom,
    make_program: Callable[..., int],
    zoom_worker: Callable[..., object],  # noqa: F811 (the fixture, imported above)
) -> None:
    program_id = _zoom_program(make_program)
    with app.app_context():
        for email, name in (("ayesha@example.com", "Ayesha Khan"), ("li@example.cn", "Li Wei")):
            register_participant(program_id, registration_input(email=email, full_name=name), actor=Actor.participant())
        ayesha = db.session.scalar(select(Registration).where(Registration.email == "ayesha@example.com"))
        session = db.session.get(Program, program_id).sessions[0]
        # The session took place: two hours, ended an hour ago.
        now = datetime.now(UTC).replace(microsecond=0)
        session.starts_at, session.ends_at = now - timedelta(hours=3), now - timedelta(hours=1)
        # Ayesha joined with her personal link under another address: her registrant id matches.
        db.session.add(
            ZoomRegistrant(registration_id=ayesha.id, session_id=session.id, registrant_id="zr-ayesha", status="added")
        )
        db.session.commit()
    strangers = [{"id": f"s{i}", "user_email": f"s{i}@example.net", "duration": 600} for i in range(650)]
    fake_zoom.add_participants(
        "webinar",
        ZOOM_ID,
        [
            {"id": "a1", "registrant_id": "zr-ayesha", "user_email": "ayesha.k@gmail.com", "duration": 50 * 60 + 20},
            *strangers,  # the report is three pages long
            {"id": "a1", "registrant_id": "zr-ayesha", "user_email": "ayesha.k@gmail.com", "duration": 39 * 60 + 40},
            {"id": "l1", "user_email": " LI@example.cn", "duration": 30 * 60},
            {"id": "x", "user_email": "broken@example.org", "duration": "forever"},
        ],
    )
    zoom_worker()
    with app.app_context():
        assert accept_event({"event": "webinar.ended", "event_ts": 1, "payload": {"object": {"id": ZOOM_ID}}})
    wait_until(lambda: len(_minutes(app)) == 2, what="attendance from the ended event")
    assert _minutes(app) == {"ayesha@example.com": (90, "zoom_report"), "li@example.cn": (30, "zoom_report")}

    # Li rejoined for an hour more (Zoom's report grew); the organiser fetches again.
    fake_zoom.add_participants("webinar", ZOOM_ID, [{"id": "l1", "user_email": "li@example.cn", "duration": 3600}])
    app.config.update(fake_zoom.config())
    client = sign_in(app, admin=True)
    page = client.get(f"/organiser/programs/{program_id}/attendees").get_data(as_text=True)
    assert "Fetch attendance from Zoom" in page
    response = client.post(
        f"/organiser/programs/{program_id}/attendees/zoom-attendance",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Fetching attendance from Zoom for 1 session." in response.get_data(as_text=True)
    wait_until(lambda: _minutes(app).get("li@example.cn", (0, ""))[0] == 90, what="the second fetch")
    # Replaced, not added: Ayesha's 90 minutes were read twice and are still 90.
    assert _minutes(app) == {"ayesha@example.com": (90, "zoom_report"), "li@example.cn": (90, "zoom_report")}
    page = client.get(f"/organiser/programs/{program_id}/attendees?attended=yes").get_data(as_text=True)
    assert "Ayesha Khan" in page and "Li Wei" in page
