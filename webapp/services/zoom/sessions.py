"""Sessions' own webinars and meetings in Zoom: created from the editor, kept in step
with the session's title and times, deleted when the session is cancelled.

Requests never call Zoom. The editor's save marks what is to be done on the session
row (`ProgramSession.zoom_sync`) in its own transaction and promises the worker's task
after the commit; beat's sweep finds any row whose task was lost. The worker claims a
row under its lock, calls Zoom outside any transaction, and writes the answer back.

Creating is the one call that is not idempotent. Before calling, the worker commits
"creating" with a lease: a second task finds the lease and leaves the row alone. If the
worker dies after Zoom answered, or Zoom's answer was lost (timeout, 5xx), the outcome
is unknown; once the lease is over the next try first lists the account's upcoming
webinars or meetings and adopts the one with the same topic and start, and creates only
when there is none.

Only a Zoom object Rollcall created is changed or deleted by Rollcall: an ID the
organiser typed names something they manage in Zoom (perhaps shared with other
programs, or recurring), and it is left as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from webapp.database import is_postgresql
from webapp.extensions import db
from webapp.models import Program, ProgramSession, utcnow
from webapp.services.transactions import promise_task, unit_of_work
from webapp.services.zoom import ZoomClient, ZoomObject, ZoomRejected, ZoomRetryable, zoom_client, zoom_settings
from webapp.services.zoom.pacing import each_until_told_to_wait, wait_after

log = logging.getLogger(__name__)

SYNC_TASK = "worker.tasks.zoom.sync_sessions"
# While a create is in flight no other worker touches the row; after this long its
# outcome counts as unknown (the worker died) and Zoom is searched before creating.
CREATING_LEASE = timedelta(minutes=5)
# Zoom's limits: a topic of 200 characters, an agenda of 2,000.
TOPIC_MAX, AGENDA_MAX = 200, 2000
# Zoom's type numbers: a scheduled meeting (2); a webinar (5).
TYPE_NUMBERS = {"meeting": 2, "webinar": 5}
PENDING = ("create", "creating", "update", "delete")


# --- what Zoom is told -----------------------------------------------------------------


def zoom_fields(program: Program, session: ProgramSession) -> dict[str, Any]:
    """The fields Rollcall keeps in step for a session's webinar or meeting: the topic
    (the program's title, and the session's when the program has several), the start in
    UTC, the length in whole minutes (rounded up), the program's zone (Zoom shows times
    in it) and the summary as agenda. Pure."""
    several = len(program.sessions) > 1
    topic = f"{program.title}: {session.title}" if several else program.title
    minutes = math.ceil((session.ends_at - session.starts_at).total_seconds() / 60)
    return {
        "topic": topic[:TOPIC_MAX],
        "start_time": session.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": max(minutes, 1),
        "timezone": program.timezone,
        "agenda": program.summary[:AGENDA_MAX],
    }


def creation_body(zoom_type: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The body of ``POST /users/me/{type}s``: the fields, the type, registration
    required with automatic approval (``approval_type`` 0), and Zoom's own registrant
    emails off (``registrants_confirmation_email`` and
    ``registrants_email_notification`` false, in the settings of webinars and meetings
    alike): Rollcall emails each registrant their personal link."""
    return fields | {
        "type": TYPE_NUMBERS[zoom_type],
        "settings": {
            "approval_type": 0,
            "registrants_confirmation_email": False,
            "registrants_email_notification": False,
        },
    }


def fields_key(fields: dict[str, Any]) -> str:
    """A digest of the fields, to tell whether Zoom already has them."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


# --- the editor's side (in the caller's unit_of_work) ------------------------------------


def _mark(session: ProgramSession, action: str | None) -> None:
    session.zoom_sync = action
    session.zoom_sync_attempts = 0
    session.zoom_sync_next_at = None
    session.zoom_sync_failed_at = None
    session.zoom_sync_error = None
    if action is not None:
        promise_task(SYNC_TASK, [[session.id]])


def session_saved(session: ProgramSession, *, create: bool) -> None:
    """After the editor wrote `session` (flushed, in the caller's `unit_of_work`):
    create its Zoom object if asked (`create`) and it names none; update the one
    Rollcall created if its topic, times, zone or agenda changed. Nothing changed:
    nothing to do, and Zoom is not called. Promises the worker's task after the commit."""
    if session.zoom_meeting_id:
        if session.zoom_sync in ("create", "creating") and not session.zoom_created:
            _mark(session, None)  # the organiser typed an ID meanwhile: it is the one
        if not session.zoom_created:
            return
        if session.zoom_sync in ("update", "delete") and session.zoom_sync_failed_at is None:
            if session.zoom_sync == "delete":
                _mark(session, "update")  # back before Zoom heard it was cancelled
            return  # the task sends the fields as they are when it runs
        if fields_key(zoom_fields(session.program, session)) != session.zoom_sync_key:
            _mark(session, "update")
        return
    if create and session.zoom_sync not in ("create", "creating"):
        _mark(session, "create")
    elif not create and session.zoom_sync == "create":
        _mark(session, None)


def session_cancelled(session: ProgramSession) -> None:
    """`session` was cancelled (in the caller's `unit_of_work`): delete its Zoom object
    if Rollcall created it (Zoom emails nobody); a creation not yet made is dropped.
    Promises the worker's task after the commit."""
    if session.zoom_created and session.zoom_meeting_id:
        _mark(session, "delete")
    elif session.zoom_sync == "create":
        _mark(session, None)
    elif session.zoom_sync == "creating":
        # Zoom may have it: the worker looks for it, and deletes what it finds.
        promise_task(SYNC_TASK, [[session.id]])


def request_retry(program_id: int, session_id: int) -> bool:
    """The organiser's "Try again": the session's pending Zoom action is tried now, by
    the worker after this commits. False when there is nothing to try (another
    program's session, or Zoom in step)."""
    with unit_of_work():
        session = db.session.scalar(
            select(ProgramSession)
            .where(ProgramSession.id == session_id, ProgramSession.program_id == program_id)
            .with_for_update()
        )
        if session is None or session.zoom_sync is None:
            return False
        session.zoom_sync_failed_at = None
        in_flight = session.zoom_sync == "creating" and session.zoom_sync_error is None
        if not in_flight:  # a create in flight keeps its lease; a backoff is skipped
            session.zoom_sync_next_at = None
        promise_task(SYNC_TASK, [[session.id]])
    return True


# --- the organiser's view ---------------------------------------------------------------


@dataclass(frozen=True)
class SyncState:
    """What the organiser reads about a session's Zoom object: "created" (Rollcall
    created it and Zoom is in step), "linked" (an ID the organiser typed), "waiting"
    (Rollcall is still to create, change or delete it: `action`), "failed" (Zoom
    refused: `error`, with a retry), or "" (no Zoom object)."""

    kind: str
    action: str = ""
    error: str = ""
    zoom_id: str = ""


def sync_state(session: ProgramSession) -> SyncState:
    """The session's Zoom state for the organiser. Pure."""
    zoom_id = session.zoom_meeting_id or ""
    if session.zoom_sync is not None:
        action = "create" if session.zoom_sync == "creating" else session.zoom_sync
        if session.zoom_sync_failed_at is not None:
            return SyncState("failed", action, session.zoom_sync_error or "", zoom_id)
        return SyncState("waiting", action, session.zoom_sync_error or "", zoom_id)
    if zoom_id:
        return SyncState("created" if session.zoom_created else "linked", zoom_id=zoom_id)
    return SyncState("")


# --- the worker's side ------------------------------------------------------------------


def _locked(session_id: int) -> ProgramSession | None:
    """The session, locked until commit; None if another worker holds it (PostgreSQL)."""
    query = select(ProgramSession).where(ProgramSession.id == session_id).execution_options(populate_existing=True)
    if is_postgresql():
        query = query.with_for_update(skip_locked=True)
    return db.session.scalar(query)


def due_sessions(limit: int = 100) -> list[int]:
    """Sessions with a Zoom action due now (not given up on), oldest first."""
    now = utcnow()
    return list(
        db.session.scalars(
            select(ProgramSession.id)
            .where(
                ProgramSession.zoom_sync.is_not(None),
                ProgramSession.zoom_sync_failed_at.is_(None),
                or_(ProgramSession.zoom_sync_next_at.is_(None), ProgramSession.zoom_sync_next_at <= now),
            )
            .order_by(ProgramSession.id)
            .limit(limit)
        )
    )


def sync_sessions(session_ids: list[int] | None = None) -> dict[str, int]:
    """Worker: do the Zoom actions due on these sessions (or on every session with one
    due: beat's sweep). Commits each; Zoom is called outside any transaction. A 429 or
    failure waits as every Zoom call does (`pacing.wait_after`); a refusal is shown to the
    organiser with a retry. Returns counts by outcome."""
    counts = {"done": 0, "retry": 0, "failed": 0}
    if zoom_settings() is None:
        return counts
    ids = session_ids if session_ids else due_sessions()
    if not ids:
        return counts
    with zoom_client() as client:
        return each_until_told_to_wait(client, ids, _sync_one, counts)


@dataclass(frozen=True)
class _Claim:
    action: str
    zoom_type: str
    object_id: str
    fields: dict[str, Any]
    unknown: bool  # a create whose outcome is not known: look before creating
    cancelled: bool


def _claim(session_id: int) -> _Claim | None:
    """Take the session's due action (one transaction, under its lock). A create is
    committed as "creating" with a lease before Zoom is called."""
    now = utcnow()
    with unit_of_work():
        session = _locked(session_id)
        if session is None or session.zoom_sync is None or session.zoom_sync_failed_at is not None:
            return None
        if session.zoom_sync_next_at is not None and session.zoom_sync_next_at > now:
            return None  # waiting, or another worker's create is in flight
        action = session.zoom_sync
        cancelled = session.cancelled_at is not None
        if action in ("update", "delete") and not (session.zoom_created and session.zoom_meeting_id):
            session.zoom_sync = None  # nothing of Rollcall's to change in Zoom
            return None
        if action == "create" and (session.zoom_meeting_id or cancelled):
            session.zoom_sync = None
            return None
        if action in ("create", "creating"):
            session.zoom_sync = "creating"
            session.zoom_sync_next_at = now + CREATING_LEASE
            session.zoom_sync_error = None  # in flight: no error of its own yet
        return _Claim(
            action=action,
            zoom_type=session.zoom_type,
            object_id=session.zoom_meeting_id or "",
            fields=zoom_fields(session.program, session),
            unknown=action == "creating",
            cancelled=cancelled,
        )


def find_created(client: ZoomClient, zoom_type: str, fields: dict[str, Any]) -> ZoomObject | None:
    """The upcoming webinar or meeting with this topic and start (to the minute), if
    Zoom has one: what an earlier create whose answer was lost made."""
    start = datetime.fromisoformat(fields["start_time"].replace("Z", "+00:00"))
    for item in client.upcoming_objects(zoom_type):  # type: ignore[arg-type]
        same_start = item.start_time is not None and abs(item.start_time - start) < timedelta(minutes=1)
        if item.topic == fields["topic"] and same_start:
            return item
    return None


def _sync_one(client: ZoomClient, session_id: int) -> str | None:
    claim = _claim(session_id)
    if claim is None:
        return None
    zoom_type = claim.zoom_type
    created: ZoomObject | None = None
    try:
        if claim.action in ("create", "creating"):
            found = find_created(client, zoom_type, claim.fields) if claim.unknown else None
            if claim.cancelled:
                if found is not None:
                    client.delete_object(zoom_type, found.id)  # type: ignore[arg-type]
            else:
                created = found or client.create_object(zoom_type, creation_body(zoom_type, claim.fields))  # type: ignore[arg-type]
        elif claim.action == "update":
            client.update_object(zoom_type, claim.object_id, claim.fields)  # type: ignore[arg-type]
        elif claim.action == "delete":
            try:
                client.delete_object(zoom_type, claim.object_id)  # type: ignore[arg-type]
            except ZoomRejected as exc:
                if exc.status != 404:
                    raise  # 404: already gone, which is what was asked
    except ZoomRetryable as exc:
        _failed(session_id, claim, str(exc), retryable=exc)
        return "retry"
    except ZoomRejected as exc:
        _failed(session_id, claim, str(exc), retryable=None)
        return "failed"
    _succeeded(session_id, claim, created)
    return "done"


def _failed(session_id: int, claim: _Claim, error: str, *, retryable: ZoomRetryable | None) -> None:
    now = utcnow()
    with unit_of_work():
        session = _locked(session_id)
        if session is None:
            return
        session.zoom_sync_attempts += 1
        session.zoom_sync_error = error[:2000]
        if claim.action in ("create", "creating"):
            # Only a 429 or a refusal says for sure that nothing was created; after a
            # timeout or 5xx (or a failed search) the next try looks first.
            definite = retryable is None or retryable.status == 429
            session.zoom_sync = "create" if definite and not claim.unknown else "creating"
        if retryable is not None:
            session.zoom_sync_next_at = now + wait_after(retryable, session.zoom_sync_attempts)
        else:
            session.zoom_sync_next_at = None
            session.zoom_sync_failed_at = now
            log.warning("Zoom refused to %s the Zoom object of session %s: %s", claim.action, session_id, error)


def _succeeded(session_id: int, claim: _Claim, created: ZoomObject | None) -> None:
    now = utcnow()
    with unit_of_work():
        session = _locked(session_id)
        if session is None:
            return
        session.zoom_sync = None
        session.zoom_sync_attempts = 0
        session.zoom_sync_error = None
        session.zoom_sync_next_at = None
        session.zoom_synced_at = now
        if claim.action == "delete" or (claim.cancelled and created is None):
            session.zoom_sync_key = None
            return
        if created is not None:
            session.zoom_meeting_id = created.id[:64]
            session.zoom_created = True
            if not session.join_url:
                # The static link is the fallback for a registrant Zoom gave no personal
                # link. With registration required, Zoom's join link of the object asks
                # them to register first, and its registration link does just that: the
                # registration link where Zoom gives one, else the join link. A link the
                # organiser typed is theirs and is kept.
                link = created.registration_url or created.join_url
                if link.startswith(("https://", "http://")) and len(link) <= 500:
                    session.join_url = link
        session.zoom_sync_key = fields_key(claim.fields)
        # Edited, or cancelled, while Zoom was answering: one more call brings it in step.
        if session.cancelled_at is not None:
            _mark(session, "delete")
        elif fields_key(zoom_fields(session.program, session)) != session.zoom_sync_key:
            _mark(session, "update")
