"""Personal Zoom links: each confirmed registrant added to the program's Zoom sessions
by the worker, the link they are shown, and their cancellation in Zoom when they leave.

The hand-off never loses an email: a confirmation is the outbox row it always was, and
delivering it first makes sure its registrant is in Zoom (`PersonalLinks`). While Zoom
asks to wait (429) or fails (5xx, timeouts), the delivery defers itself (the row goes
back to pending until the next try, and the sweep brings it back); past
``ZOOM_FALLBACK_MINUTES`` the confirmation goes out with the session's static link, and
the organiser's attendee list shows who lacks a personal link, with a retry. Once Zoom
gave a link it is stored and never asked for again (Zoom allows 3 adds per registrant
per day): resends, reminders, the self-service page and the .ics all read it.

Only the worker calls Zoom. Requests change rows and promise tasks after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from webapp.database import insert_skipping_conflicts, is_postgresql
from webapp.extensions import db
from webapp.models import Email, Program, ProgramSession, Registration, ZoomRegistrant, utcnow
from webapp.services import outbox
from webapp.services.transactions import promise_task, unit_of_work
from webapp.services.zoom import ZoomClient, ZoomRejected, ZoomRetryable, zoom_client, zoom_settings
from webapp.services.zoom.pacing import each_until_told_to_wait, wait_after

log = logging.getLogger(__name__)

CANCEL_TASK = "worker.tasks.zoom.cancel_registrants"
RETRY_TASK = "worker.tasks.zoom.retry_links"
# Emails whose delivery first makes sure the registrant is in Zoom: they carry the link.
LINK_KINDS = ("confirmation", "already_registered")
# How long a delivery waits when another worker is adding the same registrant.
BUSY_WAIT = timedelta(seconds=5)
# A 429 pauses this batch's other Zoom calls for at most this long (a per-registrant
# daily limit answers 429 too, with a wait until midnight that must not hold everyone).
MAX_BATCH_PAUSE = timedelta(seconds=60)
# How long a confirmation waits before looking again for a session being created in Zoom.
CREATION_WAIT = timedelta(seconds=30)


def zoom_sessions(program: Program) -> list[ProgramSession]:
    """The program's sessions (not cancelled) that name a Zoom webinar or meeting."""
    return [s for s in program.sessions if s.zoom_meeting_id]


def being_created(program: Program) -> list[ProgramSession]:
    """The program's sessions whose webinar or meeting Rollcall is creating in Zoom (the
    editor's "Create in Zoom"; `sessions.py`), not given up on: no link exists yet."""
    return [
        s
        for s in program.sessions
        if not s.zoom_meeting_id and s.zoom_sync in ("create", "creating") and s.zoom_sync_failed_at is None
    ]


def personal_links(registration_id: int, sessions: Iterable[ProgramSession]) -> dict[int, str]:
    """Session id → this registrant's personal Zoom link, for the sessions that have
    one. No query at all for sessions without a Zoom id (most programs, and every
    reminder of theirs)."""
    ids = [s.id for s in sessions if s.zoom_meeting_id]
    if not ids:
        return {}
    rows = db.session.execute(
        select(ZoomRegistrant.session_id, ZoomRegistrant.join_url).where(
            ZoomRegistrant.registration_id == registration_id,
            ZoomRegistrant.session_id.in_(ids),
            ZoomRegistrant.status == "added",
        )
    )
    return {session_id: url for session_id, url in rows if url}


def split_name(full_name: str) -> tuple[str, str]:
    """Zoom wants a first and a last name; a name of one word (or in a script without
    spaces) is all first name."""
    first, _, last = full_name.strip().rpartition(" ")
    return (first, last) if first else (last or full_name, "")


def registration_left(registration_id: int) -> None:
    """A confirmed registration was cancelled, rejected or moved back to the waiting
    list, in the caller's `unit_of_work`: its Zoom places are to be cancelled (by the
    worker, after the commit); places Zoom never gave are simply closed."""
    now = utcnow()
    to_cancel = db.session.execute(
        update(ZoomRegistrant)
        .where(ZoomRegistrant.registration_id == registration_id, ZoomRegistrant.status == "added")
        .values(status="cancelling", attempts=0, next_attempt_at=None, last_error=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        update(ZoomRegistrant)
        .where(ZoomRegistrant.registration_id == registration_id, ZoomRegistrant.status.in_(("pending", "failed")))
        .values(status="cancelled", cancelled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if to_cancel:
        promise_task(CANCEL_TASK, [[registration_id]])


def cancel_registrants(registration_ids: list[int] | None = None, limit: int = 200) -> dict[str, int]:
    """Cancel in Zoom the places of registrations that left (all that are due, or
    those of `registration_ids`). Worker only. Commits each row; retryable failures
    are tried again by the sweep after a backoff. Returns counts by outcome."""
    counts = {"cancelled": 0, "retry": 0, "failed": 0}
    if zoom_settings() is None:
        return counts
    now = utcnow()
    query = select(ZoomRegistrant.id).where(
        ZoomRegistrant.status == "cancelling",
        (ZoomRegistrant.next_attempt_at.is_(None)) | (ZoomRegistrant.next_attempt_at <= now),
    )
    if registration_ids:
        query = query.where(ZoomRegistrant.registration_id.in_(registration_ids))
    ids = list(db.session.scalars(query.order_by(ZoomRegistrant.id).limit(limit)))
    if not ids:
        return counts
    with zoom_client() as client:
        return each_until_told_to_wait(client, ids, _cancel_one, counts)


def _cancel_one(client: ZoomClient, row_id: int) -> str | None:
    now = utcnow()
    with unit_of_work():
        row = _locked(row_id)
        if row is None or row.status != "cancelling":
            return None
        session = db.session.get(ProgramSession, row.session_id)
        registration = db.session.get(Registration, row.registration_id)
        if session is None or registration is None or not session.zoom_meeting_id or not row.registrant_id:
            row.status, row.cancelled_at = "cancelled", now
            return "cancelled"
        try:
            client.cancel_registrant(
                session.zoom_type,  # type: ignore[arg-type]
                session.zoom_meeting_id,
                registrant_id=row.registrant_id,
                email=registration.email,
            )
        except ZoomRetryable as exc:
            row.attempts += 1
            row.last_error = str(exc)[:2000]
            row.next_attempt_at = now + wait_after(exc, row.attempts)
            return "retry"
        except ZoomRejected as exc:
            # Zoom no longer knows the registrant or the session: nothing left to cancel.
            row.status, row.cancelled_at, row.last_error = "cancelled", now, str(exc)[:2000]
            return "failed"
        row.status, row.cancelled_at, row.last_error = "cancelled", now, None
        return "cancelled"


def _locked(row_id: int) -> ZoomRegistrant | None:
    """The row, locked until commit; None if another worker holds it (PostgreSQL)."""
    query = select(ZoomRegistrant).where(ZoomRegistrant.id == row_id).execution_options(populate_existing=True)
    if is_postgresql():
        query = query.with_for_update(skip_locked=True)
    return db.session.scalar(query)


# --- joining: add to Zoom before the confirmation goes out ---------------------------


_NEW_PLACE = insert_skipping_conflicts(
    ZoomRegistrant.__table__,
    ["registration_id", "session_id", "status", "attempts", "created_at", "updated_at"],
    conflict=("registration_id", "session_id"),
)


@dataclass(frozen=True)
class Wait:
    """Deliver the email no earlier than `until`: Zoom asked to wait, or failed."""

    until: datetime
    reason: str


class PersonalLinks:
    """Makes sure registrants are in their Zoom sessions before their confirmation is
    sent; one per batch of deliveries (a 429 pauses the rest of the batch). Worker only."""

    def __init__(self) -> None:
        self.configured = zoom_settings() is not None
        self._client: ZoomClient | None = None
        self.paused_until: datetime | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def client(self) -> ZoomClient:
        if self._client is None:
            self._client = zoom_client()
        return self._client

    def before_sending(self, email: Email) -> Wait | None:
        """None when `email` may go now: it carries no Zoom link, every personal link is
        there, or Zoom failed past the fallback time (the static link goes instead).
        Else when to try again. Commits what Zoom answered."""
        registration = email.registration
        if not self.configured or email.kind not in LINK_KINDS or registration is None:
            return None
        if registration.status != "confirmed" or registration.program.status == "cancelled":
            return None
        sessions = zoom_sessions(registration.program)
        creating = being_created(registration.program)
        if not sessions and not creating:
            return None
        fallback = timedelta(minutes=float(current_app.config["ZOOM_FALLBACK_MINUTES"]))
        give_up_at = email.created_at + fallback
        waits = [w for w in (self.ensure(registration, s, give_up_at) for s in sessions) if w is not None]
        now = utcnow()
        if creating and now < give_up_at:
            # No link to give yet, personal or static: the email waits for the webinar
            # or meeting (no longer than for a personal link), then carries its link.
            waits.append(Wait(now + CREATION_WAIT, "waiting for Zoom to create the session's webinar or meeting"))
        if not waits:
            return None
        first = min(waits, key=lambda w: w.until)
        return Wait(min(first.until, give_up_at), first.reason)

    def ensure(self, registration: Registration, session: ProgramSession, give_up_at: datetime) -> Wait | None:
        """Add `registration` to `session` in Zoom unless it is there already. None when
        done (added, or given up: status failed); else when to try again."""
        now = utcnow()
        with unit_of_work():
            db.session.execute(
                _NEW_PLACE,
                {
                    "registration_id": registration.id,
                    "session_id": session.id,
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            row_id = db.session.scalar(
                select(ZoomRegistrant.id).where(
                    ZoomRegistrant.registration_id == registration.id, ZoomRegistrant.session_id == session.id
                )
            )
            row = _locked(row_id) if row_id is not None else None
            if row is None:
                return Wait(now + BUSY_WAIT, "another worker is adding this registrant to Zoom")
            if row.status in ("added", "failed"):
                return None
            if row.status == "cancelling" and row.registrant_id and row.join_url:
                row.status = "added"  # back before Zoom heard they left: nothing to undo
                return None
            if row.status == "cancelled":
                row.status, row.attempts, row.next_attempt_at, row.cancelled_at = "pending", 0, None, None
            waiting_until = max(t for t in (row.next_attempt_at, self.paused_until, now) if t is not None)
            if waiting_until > now:
                if now >= give_up_at:
                    return self._give_up(row, f"Zoom kept failing; last: {row.last_error or 'no answer'}")
                return Wait(waiting_until, row.last_error or "waiting for Zoom")
            try:
                added = self.client().add_registrant(
                    session.zoom_type,  # type: ignore[arg-type]
                    session.zoom_meeting_id or "",
                    email=registration.email,
                    first_name=split_name(registration.full_name)[0],
                    last_name=split_name(registration.full_name)[1],
                )
            except ZoomRetryable as exc:
                row.attempts += 1
                row.last_error = str(exc)[:2000]
                row.next_attempt_at = now + wait_after(exc, row.attempts)
                if exc.retry_after is not None:  # Zoom asks everyone to wait: the batch pauses
                    self.paused_until = now + min(timedelta(seconds=exc.retry_after), MAX_BATCH_PAUSE)
                if now >= give_up_at:
                    return self._give_up(row, row.last_error)
                return Wait(row.next_attempt_at, row.last_error)
            except ZoomRejected as exc:
                row.attempts += 1
                return self._give_up(row, str(exc))
            row.status, row.registrant_id, row.join_url = "added", added.registrant_id, added.join_url
            row.added_at, row.last_error, row.next_attempt_at = now, None, None
            return None

    @staticmethod
    def _give_up(row: ZoomRegistrant, reason: str) -> None:
        log.warning(
            "no personal Zoom link for registration %s, session %s: %s", row.registration_id, row.session_id, reason
        )
        row.status = "failed"
        row.last_error = reason[:2000]
        row.next_attempt_at = None
        return None


# --- the organiser's view and retry ----------------------------------------------------


@dataclass(frozen=True)
class MissingLink:
    registration_id: int
    full_name: str
    email: str
    session_title: str
    error: str


def missing_links(program_id: int) -> list[MissingLink]:
    """Confirmed registrants whom Zoom gave no personal link (they have the session's
    own link), for the attendee list."""
    rows = db.session.execute(
        select(
            Registration.id, Registration.full_name, Registration.email, ProgramSession.title, ZoomRegistrant.last_error
        )
        .join(ZoomRegistrant, ZoomRegistrant.registration_id == Registration.id)
        .join(ProgramSession, ProgramSession.id == ZoomRegistrant.session_id)
        .where(
            Registration.program_id == program_id,
            Registration.status == "confirmed",
            ZoomRegistrant.status == "failed",
            ProgramSession.cancelled_at.is_(None),
        )
        .order_by(Registration.full_name, ProgramSession.starts_at)
    )
    return [MissingLink(*row[:4], error=row[4] or "") for row in rows]


def request_retry(program_id: int) -> int:
    """The organiser asks Zoom again for the links it did not give: their places go
    back to pending and the worker tries each once (`retry_links`), emailing the new
    link. Commits, then enqueues; returns how many places."""
    with unit_of_work():
        ids = list(
            db.session.scalars(
                select(ZoomRegistrant.id)
                .join(Registration, Registration.id == ZoomRegistrant.registration_id)
                .where(
                    Registration.program_id == program_id,
                    Registration.status == "confirmed",
                    ZoomRegistrant.status == "failed",
                )
            )
        )
        if ids:
            db.session.execute(
                update(ZoomRegistrant)
                .where(ZoomRegistrant.id.in_(ids))
                .values(status="pending", next_attempt_at=None, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            promise_task(RETRY_TASK, [ids])
    return len(ids)


def retry_links(row_ids: list[int]) -> dict[str, int]:
    """Worker: one more try for each of these places; a link Zoom gives now is emailed
    to its registrant ("new time or link"), a failure goes back to the organiser's list.
    Commits; queues the emails."""
    counts = {"added": 0, "failed": 0}
    if zoom_settings() is None:
        return counts
    links = PersonalLinks()
    try:
        for row in list(db.session.scalars(select(ZoomRegistrant).where(ZoomRegistrant.id.in_(row_ids)))):
            registration = db.session.get(Registration, row.registration_id)
            session = db.session.get(ProgramSession, row.session_id)
            if registration is None or session is None or registration.status != "confirmed":
                continue
            links.ensure(registration, session, give_up_at=utcnow())  # one try: fail means failed
            db.session.refresh(row)
            if row.status == "pending":  # Zoom asked to wait: back to the organiser's list
                with unit_of_work():
                    row.status = "failed"
            if row.status == "added":
                counts["added"] += 1
                with unit_of_work():
                    outbox.queue_email(
                        registration,
                        "session_updated",
                        session=session,
                        dedupe_key=f"zoom-link:{row.id}:{row.registrant_id}",
                    )
            else:
                counts["failed"] += 1
    finally:
        links.close()
    return counts
