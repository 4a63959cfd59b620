"""The live count from Zoom's participant joined/left events, through signed webhook
requests: redeliveries and events out of order leave no ghost, the ended event stops
the count, and the organiser reads "N in the session now" with and without JavaScript."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.functional.helpers import sign_in
from tests.functional.test_zoom_webhook import SECRET, _post
from tests.worker.test_zoom_links import ZOOM_ID, _zoom_program
from webapp.extensions import db
from webapp.models import Program, ZoomWebhookEvent
from webapp.services.zoom import webhooks

_order = itertools.count()


def _now_ts() -> int:
    """Zoom's event_ts: when it sent the event (now, in milliseconds), each later than the last."""
    return int(time.time() * 1000) + next(_order)


def _event(name: str, when: datetime, person: str, **extra: Any) -> dict[str, Any]:
    time_field = "join_time" if name.endswith("joined") else "leave_time"
    participant = {
        "user_id": "16778240",
        "user_name": person.title(),
        "id": "",
        "participant_uuid": f"uuid-{person}",
        time_field: when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "email": f"{person}@example.com",
        **extra,
    }
    return {
        "event": name,
        "event_ts": _now_ts(),
        "payload": {
            "account_id": "acc",
            "object": {"id": ZOOM_ID, "uuid": "abc==", "topic": "Webinar", "type": 5, "participant": participant},
        },
    }


def _handle_all(app: Flask) -> None:
    """What the worker does with each event the webhook kept."""
    with app.app_context():
        ids = db.session.scalars(select(ZoomWebhookEvent.id).where(ZoomWebhookEvent.handled_at.is_(None))).all()
        for event_id in ids:
            webhooks.handle_event(event_id)


@pytest.fixture
def running(app: Flask, make_program: Callable[..., int]) -> tuple[int, datetime]:
    program_id = _zoom_program(make_program)
    with app.app_context():
        session = db.session.get(Program, program_id).sessions[0]
        now = datetime.now(UTC).replace(microsecond=0)
        session.starts_at, session.ends_at = now - timedelta(minutes=20), now + timedelta(minutes=100)
        db.session.commit()
    app.config["ZOOM_WEBHOOK_SECRET_TOKEN"] = SECRET
    return program_id, now - timedelta(minutes=15)


def _count(client: FlaskClient, program_id: int) -> list[dict[str, Any]]:
    return client.get(f"/organiser/programs/{program_id}/live").get_json()["sessions"]


def test_joined_and_left_give_the_count_in_any_order_and_redelivered(app: Flask, running: tuple[int, datetime]) -> None:
    program_id, t = running
    hook = app.test_client()
    organiser = sign_in(app, admin=True)
    assert _count(organiser, program_id)[0]["text"] == "0 in the session now"
    joined_a = _event("webinar.participant_joined", t, "ayesha", registrant_id="zr-a")
    for event in (
        joined_a,
        _event("webinar.participant_joined", t + timedelta(minutes=1), "li"),
        # Bo's left arrives before his joined (Zoom does not promise an order).
        _event("webinar.participant_left", t + timedelta(minutes=9), "bo"),
        _event("webinar.participant_joined", t + timedelta(minutes=2), "bo"),
    ):
        assert _post(hook, event).status_code == 200
    assert _post(hook, joined_a).status_code == 200  # a redelivery
    _handle_all(app)
    assert [c["count"] for c in _count(organiser, program_id)] == [2]  # Ayesha and Li; Bo came and went
    # The same for a page without JavaScript, on the program page and the attendee list.
    for path in (f"/organiser/programs/{program_id}/", f"/organiser/programs/{program_id}/attendees"):
        page = organiser.get(path).get_data(as_text=True)
        assert "In Zoom now" in page and "2 in the session now" in page
    # Li leaves and comes back; Ayesha leaves (her left names her by registrant id too).
    for event in (
        _event("webinar.participant_left", t + timedelta(minutes=5), "li"),
        _event("webinar.participant_joined", t + timedelta(minutes=6), "li"),
        _event("webinar.participant_left", t + timedelta(minutes=7), "ayesha", registrant_id="zr-a"),
    ):
        _post(hook, event)
    _handle_all(app)
    assert _count(organiser, program_id)[0]["text"] == "1 in the session now"
    # The webinar ends: the count stops, whoever Zoom never reported leaving.
    _post(hook, {"event": "webinar.ended", "event_ts": _now_ts(), "payload": {"object": {"id": ZOOM_ID}}})
    _handle_all(app)
    assert _count(organiser, program_id) == []
    assert "In Zoom now" not in organiser.get(f"/organiser/programs/{program_id}/").get_data(as_text=True)


def test_the_count_in_persian_and_hostile_events_change_nothing(app: Flask, running: tuple[int, datetime]) -> None:
    program_id, t = running
    hook = app.test_client()
    odd = [
        _event("webinar.participant_joined", t, "x") | {"payload": {"object": {"id": ZOOM_ID}}},
        _event("webinar.participant_joined", t, "y") | {"payload": "nonsense"},
        _event("meeting.participant_joined", t, "z"),  # not a meeting of any session
        {"event": "webinar.participant_joined", "payload": {"object": {"id": True, "participant": {}}}},
        _event("webinar.participant_joined", t, "nobody", participant_uuid="\x00", user_id="\x00", email="\x00"),
    ]
    bad_time = _event("webinar.participant_joined", t, "late")
    bad_time["payload"]["object"]["participant"]["join_time"] = "9999-99-99"
    bad_time["event_ts"] = 10**30
    for event in [*odd, bad_time]:
        assert _post(hook, event).status_code == 200
    _handle_all(app)
    _post(hook, _event("webinar.participant_joined", t, "ayesha"))
    _handle_all(app)
    organiser = sign_in(app, admin=True)
    assert _count(organiser, program_id)[0]["count"] == 1
    with app.app_context():
        session = db.session.get(Program, program_id).sessions[0]
        session.translations = {"fa": {"title": "مبانی باتری"}}
        db.session.commit()
    page = organiser.get(f"/organiser/programs/{program_id}/?lang=fa").get_data(as_text=True)
    assert "مبانی باتری" in page.split('id="live-title"')[1]  # the session in the reader's language
    # The page and the poll say the same words, in the reader's digits.
    words = organiser.get(f"/organiser/programs/{program_id}/live?lang=fa").get_json()["sessions"][0]["text"]
    assert words == "اکنون ۱ نفر در جلسه است"
    assert words in page
    # Another organiser cannot read this program's count.
    stranger = sign_in(app, "other@example.org")
    assert stranger.get(f"/organiser/programs/{program_id}/live").status_code == 404
