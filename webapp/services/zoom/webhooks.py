"""Zoom's webhook: checking that a request comes from Zoom, answering its URL check,
and keeping each event once for the worker.

Zoom signs every request with the app's secret token: ``x-zm-signature`` is ``v0=`` and
the hex HMAC-SHA256 of ``v0:{x-zm-request-timestamp}:{raw body}``. A bad signature, or a
timestamp more than five minutes away (a replay), is refused. Zoom redelivers an event
it thinks was lost: the same event (name, time, object) is stored once and handed to the
worker once. The request answers at once; the work is the worker's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from webapp.database import insert_skipping_conflicts
from webapp.extensions import db
from webapp.models import ZoomWebhookEvent, utcnow
from webapp.services.transactions import promise_task, unit_of_work
from webapp.services.zoom import presence

HANDLE_TASK = "worker.tasks.zoom.handle_event"
# Zoom's own advice: refuse requests whose timestamp is older than this.
MAX_AGE = timedelta(minutes=5)


class WebhookRefused(Exception):
    """Not from Zoom (bad signature), or too old to be trusted (a replay)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``x-zm-signature`` Zoom sends with this timestamp and body."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: datetime | None = None) -> None:
    """Raise `WebhookRefused` unless Zoom signed `body` with `secret` within five minutes."""
    if not secret or not timestamp or not signature:
        raise WebhookRefused("the signature or its timestamp is missing")
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise WebhookRefused("the timestamp is not a time") from exc
    if abs((now or datetime.now(UTC)) - sent_at) > MAX_AGE:
        raise WebhookRefused("the timestamp is more than five minutes away")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise WebhookRefused("the signature does not match")


def url_validation(secret: str, plain_token: str) -> dict[str, str]:
    """The answer to ``endpoint.url_validation``: the plain token and its HMAC."""
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


def event_key(event: dict[str, Any]) -> str:
    """What makes a redelivery the same event: its name, time and payload."""
    canonical = json.dumps(
        [event.get("event"), event.get("event_ts"), event.get("payload")], sort_keys=True, ensure_ascii=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_NEW_EVENT = insert_skipping_conflicts(
    ZoomWebhookEvent.__table__, ["dedupe_key", "event", "payload", "received_at"], conflict=("dedupe_key",)
)


def without_nul(value: Any) -> Any:
    """The JSON value with every NUL character taken out of its texts and keys:
    PostgreSQL stores no NUL in text or JSONB (a signed event carrying one would be an
    error, not an event)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value


def accept_event(event: dict[str, Any]) -> bool:
    """Keep a verified event once and hand it to the worker after the commit. Returns
    False for a redelivery (already kept; nothing more happens). Commits."""
    event = without_nul(event)
    with unit_of_work():
        event_id = db.session.scalar(
            _NEW_EVENT,
            {
                "dedupe_key": event_key(event),
                "event": str(event.get("event") or "")[:100],
                "payload": event,
                "received_at": utcnow(),
            },
        )
        if event_id is None:
            return False
        promise_task(HANDLE_TASK, [event_id])
    return True


ENDED = {"webinar.ended": "webinar", "meeting.ended": "meeting"}


def handle_event(event_id: int) -> str:
    """Worker: take a kept event. ``webinar.ended``/``meeting.ended``: the live count of
    the sessions naming that object stops, and each gets its attendance from Zoom's
    participants report by its own task after this commits (so a Zoom failure retries
    that fetch alone). ``*.participant_joined``/``_left``: who is in the session now
    (`presence`). Other events are recorded as handled. Safe to run twice. Commits;
    returns the event's name."""
    from webapp.services.attendance import FETCH_TASK, sessions_of_zoom_object

    with unit_of_work():
        event = db.session.get(ZoomWebhookEvent, event_id)
        if event is None:
            return ""
        if event.handled_at is None:
            event.handled_at = utcnow()
            body = event.payload if isinstance(event.payload, dict) else {}
            if event.event in presence.PARTICIPANT_EVENTS:
                presence.record_participant_event(body)
                return event.event
            zoom_type = ENDED.get(event.event)
            payload = body.get("payload")
            zoom_object = payload.get("object") if isinstance(payload, dict) else None
            object_id = zoom_object.get("id") if isinstance(zoom_object, dict) else None
            if zoom_type and isinstance(object_id, str | int) and not isinstance(object_id, bool):
                sessions = sessions_of_zoom_object(zoom_type, str(object_id))
                ended = presence.parse_time(zoom_object.get("end_time")) if isinstance(zoom_object, dict) else None
                presence.record_ended(sessions, ended or presence.event_time(body) or event.received_at)
                for session_id in sessions:
                    promise_task(FETCH_TASK, [session_id])
        return event.event
