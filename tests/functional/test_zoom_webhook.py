"""Zoom's webhook: the URL check, signatures, stale timestamps and redeliveries."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import ZoomWebhookEvent
from webapp.services.zoom import webhooks

SECRET = "webhook-secret-token"
URL = "/integrations/zoom/webhook"


@pytest.fixture
def zoom_client(app: Flask) -> FlaskClient:
    app.config["ZOOM_WEBHOOK_SECRET_TOKEN"] = SECRET
    app.config["WTF_CSRF_ENABLED"] = True  # the webhook alone is exempt
    return app.test_client()


def _post(client: FlaskClient, event: dict[str, Any], *, timestamp: int | None = None, secret: str = SECRET) -> Any:
    body = json.dumps(event).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"x-zm-request-timestamp": ts, "x-zm-signature": webhooks.sign(secret, ts, body)}
    return client.post(URL, data=body, headers=headers, content_type="application/json")


ENDED = {
    "event": "webinar.ended",
    "event_ts": 1765620000000,
    "payload": {"account_id": "acc", "object": {"id": "81234567890", "uuid": "abc==", "topic": "Webinar"}},
}


def test_the_url_check_is_answered_with_the_hmac_of_the_plain_token(zoom_client: FlaskClient) -> None:
    response = _post(
        zoom_client, {"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": webhooks.url_validation(SECRET, "qgg8vlvZRS6UYooatFL8Aw")["encryptedToken"],
    }
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert response.get_json()["encryptedToken"] == expected


def test_a_bad_or_missing_signature_is_refused_with_401(app: Flask, zoom_client: FlaskClient) -> None:
    assert _post(zoom_client, ENDED, secret="someone-else").status_code == 401
    assert zoom_client.post(URL, json=ENDED).status_code == 401
    body = json.dumps(ENDED).encode()
    ts = str(int(time.time()))
    tampered = json.dumps(ENDED | {"event": "meeting.ended"}).encode()
    headers = {"x-zm-request-timestamp": ts, "x-zm-signature": webhooks.sign(SECRET, ts, body)}
    assert zoom_client.post(URL, data=tampered, headers=headers).status_code == 401
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ZoomWebhookEvent)) == 0


def test_a_timestamp_older_than_five_minutes_is_refused_with_401(zoom_client: FlaskClient) -> None:
    assert _post(zoom_client, ENDED, timestamp=int(time.time()) - 301).status_code == 401
    assert _post(zoom_client, ENDED, timestamp=int(time.time()) - 240).status_code == 200
    assert _post(zoom_client, ENDED | {"event_ts": 1}, timestamp=10**20).status_code == 401


def test_an_event_is_kept_once_however_often_zoom_delivers_it(app: Flask, zoom_client: FlaskClient) -> None:
    assert _post(zoom_client, ENDED).status_code == 200
    assert _post(zoom_client, ENDED).status_code == 200  # Zoom redelivers
    assert _post(zoom_client, ENDED | {"event_ts": ENDED["event_ts"] + 1}).status_code == 200
    with app.app_context():
        events = list(db.session.scalars(select(ZoomWebhookEvent).order_by(ZoomWebhookEvent.id)))
        assert [e.event for e in events] == ["webinar.ended", "webinar.ended"]
        assert webhooks.handle_event(events[0].id) == "webinar.ended"
        assert webhooks.handle_event(events[0].id) == "webinar.ended"  # twice is harmless
        db.session.refresh(events[0])
        assert events[0].handled_at is not None


def test_signed_nonsense_is_a_400_and_without_a_secret_there_is_no_webhook(
    app: Flask, zoom_client: FlaskClient
) -> None:
    ts = str(int(time.time()))
    for body in (b"not json", b"[1, 2]", json.dumps({"event": "endpoint.url_validation", "payload": {}}).encode()):
        headers = {"x-zm-request-timestamp": ts, "x-zm-signature": webhooks.sign(SECRET, ts, body)}
        assert zoom_client.post(URL, data=body, headers=headers).status_code == 400
    app.config["ZOOM_WEBHOOK_SECRET_TOKEN"] = ""
    assert _post(zoom_client, ENDED).status_code == 404


def test_other_forms_still_need_their_csrf_token(zoom_client: FlaskClient) -> None:
    assert zoom_client.post("/organiser/login", data={"email": "a@b.c", "password": "x"}).status_code == 400
