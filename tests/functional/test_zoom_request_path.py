"""Zoom adds nothing to what a participant waits for: with Zoom configured, registering,
reading the self-service page and cancelling make no call to Zoom inside the request;
the worker does that work after the commit (tests/worker/test_zoom_links.py)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from tests.conftest import program_data
from tests.fakes.zoom import FakeZoom
from tests.functional.helpers import csrf_token, register
from webapp.extensions import db
from webapp.models import Email, Registration


def test_registering_and_cancelling_never_call_zoom_in_the_request(
    app: Flask, fake_zoom: FakeZoom, make_program: Callable[..., int]
) -> None:
    app.config.update(fake_zoom.config())
    data = program_data()
    data["sessions"][0]["zoom_meeting_id"] = "81234567890"
    make_program(sessions=data["sessions"])
    participant = app.test_client()

    for number in range(3):
        assert register(participant, "li-ion-basics", email=f"p{number}@example.org").status_code == 303
    with app.app_context():
        token = db.session.scalar(select(Registration.token).where(Registration.email == "p0@example.org"))
    assert participant.get(f"/r/{token}").status_code == 200
    page = participant.get(f"/r/{token}/cancel")
    cancel = participant.post(f"/r/{token}/cancel", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert cancel.status_code in (200, 303)

    assert fake_zoom.token_requests() == 0
    assert fake_zoom.add_calls() == []
    assert fake_zoom.cancels() == []
    with app.app_context():
        statuses = dict(db.session.execute(select(Registration.email, Registration.status)).all())
        assert statuses == {"p0@example.org": "cancelled", "p1@example.org": "confirmed", "p2@example.org": "confirmed"}
        # Each confirmation waits in the outbox for the worker, which adds the registrant
        # in Zoom before sending it.
        kinds = db.session.scalars(select(Email.kind).order_by(Email.id)).all()
        assert kinds.count("confirmation") == 3
