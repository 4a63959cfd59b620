"""The outbox: emails promised in a transaction, handed to the worker after it commits.

A row moves pending → sending → sent, or to failed (permanent SMTP refusal, or too
many transient failures) or expired (no longer worth sending). The broker is only a
doorbell: losing a task, or the broker itself, only delays an email, because
`sweep_outbox` (run by beat) re-enqueues rows nobody has claimed.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import Select, and_, func, or_, select, update

from webapp.database import insert_ignoring_duplicates, insert_skipping_conflicts, is_postgresql
from webapp.extensions import db
from webapp.models import Email, ProgramSession, utcnow
from webapp.services.transactions import promise, unit_of_work

log = logging.getLogger(__name__)


def message_id_domain() -> str:
    configured = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN")
    if configured:
        return configured
    host = urlsplit(current_app.config.get("PUBLIC_BASE_URL", "")).hostname
    return host or "rollcall.localhost"


class Addressee(Protocol):
    """Whom an email goes to: a `Registration`, or just the fields the outbox needs."""

    @property
    def id(self) -> int: ...

    @property
    def email(self) -> str: ...

    @property
    def revision(self) -> int: ...


def queue_email(
    registration: Addressee,
    kind: str,
    *,
    dedupe_key: str | None = None,
    session: ProgramSession | None = None,
    payload: dict[str, Any] | None = None,
) -> int | None:
    """Add an outbox row to the caller's `unit_of_work`, which hands it to the worker
    after the commit. Returns its id, or None if a row with the same dedupe key exists
    (the email was already promised). The default key makes one email per kind per
    status change.
    One INSERT ... ON CONFLICT DO NOTHING: no read first, no race."""
    now = utcnow()
    values = {
        "registration_id": registration.id,
        "session_id": session.id if session is not None else None,
        "kind": kind,
        "dedupe_key": dedupe_key or f"{kind}:{registration.id}:r{registration.revision}",
        "recipient": registration.email,
        "status": "pending",
        "attempts": 0,
        "payload": payload or {},
        "message_id": new_message_id(),
        "created_at": now,
        "enqueued_at": now,
    }
    email_id = db.session.scalar(_QUEUE_ONE, values)
    promise([email_id] if email_id else [])
    return email_id


def new_message_id() -> str:
    """A fresh Message-ID on our domain, fixed when the email is promised so that a
    retried delivery carries the same one."""
    return make_msgid(domain=message_id_domain())


# One outbox row, skipped if its dedupe key exists (see `webapp.database`).
_QUEUE_ONE = insert_skipping_conflicts(
    Email.__table__,
    [
        "registration_id",
        "session_id",
        "kind",
        "dedupe_key",
        "recipient",
        "status",
        "attempts",
        "payload",
        "message_id",
        "created_at",
        "enqueued_at",
    ],
    conflict=("dedupe_key",),
)


def queue_bulk(
    kind: str,
    recipients: Select[tuple[int, str]],
    *,
    dedupe_key: Callable[[int], str],
    session_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> list[int]:
    """Write one outbox row per (registration id, email) that `recipients` selects, in
    one statement, skipping any whose dedupe key exists already (so running it twice,
    or on two machines at once, promises each email once), in the caller's
    `unit_of_work`. Returns the ids of the rows written."""
    rows = db.session.execute(recipients).all()
    if not rows:
        return []
    now = utcnow()
    domain = message_id_domain()
    values = [
        {
            "registration_id": registration_id,
            "session_id": session_id,
            "kind": kind,
            "dedupe_key": dedupe_key(registration_id),
            "recipient": email,
            "status": "pending",
            "attempts": 0,
            "payload": payload or {},
            "message_id": make_msgid(domain=domain),
            "created_at": now,
            "enqueued_at": now,
        }
        for registration_id, email in rows
    ]
    table = Email.__table__
    statement = insert_ignoring_duplicates(table, ["dedupe_key"]).returning(table.c.id)
    ids: list[int] = []
    for start in range(0, len(values), 5000):
        ids += list(db.session.scalars(statement, values[start : start + 5000]))
    promise(ids)
    return ids


def claim(email_ids: list[int]) -> list[int]:
    """Atomically take rows for delivery (pending and due → sending). Only one caller
    wins each row: a second task for the same rows gets nothing and does nothing. On
    PostgreSQL, rows another worker is claiming right now are skipped, not waited for.
    Commits; returns the ids claimed, in the order given."""
    if not email_ids:
        return []
    now = utcnow()
    due = select(Email.id).where(
        Email.id.in_(email_ids),
        Email.status == "pending",
        or_(Email.next_attempt_at.is_(None), Email.next_attempt_at <= now),
    )
    if is_postgresql():
        due = due.with_for_update(skip_locked=True)
    with unit_of_work():
        claimed = set(
            db.session.scalars(
                update(Email)
                .where(Email.id.in_(due.scalar_subquery()))
                .values(status="sending", claimed_at=now, attempts=Email.attempts + 1)
                .returning(Email.id)
                .execution_options(synchronize_session=False)
            )
        )
    return [i for i in email_ids if i in claimed]


def mark_sent(email_ids: list[int], sent_at: datetime | None = None) -> None:
    """Record delivery of claimed rows. Commits."""
    if not email_ids:
        return
    with unit_of_work():
        db.session.execute(
            update(Email)
            .where(Email.id.in_(email_ids), Email.status == "sending")
            .values(status="sent", sent_at=sent_at or utcnow(), last_error=None)
            .execution_options(synchronize_session=False)
        )


def mark_final(email_id: int, status: str, error: str) -> None:
    """failed or expired, with the reason kept for organisers. Commits."""
    with unit_of_work():
        db.session.execute(
            update(Email)
            .where(Email.id == email_id, Email.status == "sending")
            .values(status=status, last_error=error[:2000])
            .execution_options(synchronize_session=False)
        )


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with full jitter: base * 2^(n-1), randomised in [50%, 100%]."""
    base = float(current_app.config["MAIL_RETRY_BASE_SECONDS"])
    ceiling = base * (2 ** max(attempts - 1, 0))
    ceiling = min(ceiling, 6 * 3600)
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def defer(email_id: int, until: datetime, reason: str) -> None:
    """Put a claimed row back to pending until `until`, without counting the attempt:
    nothing was sent, the email waits for something it must carry (a personal Zoom
    link). The sweep enqueues it when it is due. Commits."""
    with unit_of_work():
        db.session.execute(
            update(Email)
            .where(Email.id == email_id, Email.status == "sending")
            .values(
                status="pending",
                attempts=Email.attempts - 1,  # the claim counted one
                next_attempt_at=until,
                enqueued_at=None,
                last_error=reason[:2000],
            )
            .execution_options(synchronize_session=False)
        )


def mark_transient_failure(email_id: int, error: str) -> str:
    """Back to pending with a later next attempt, or failed when attempts are used up.
    Commits; returns the new status."""
    with unit_of_work():
        email = db.session.get(Email, email_id, populate_existing=True)
        if email is None or email.status != "sending":
            return email.status if email else "missing"
        if email.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
            email.status = "failed"
            email.last_error = f"gave up after {email.attempts} attempts: {error}"[:2000]
        else:
            email.status = "pending"
            email.last_error = error[:2000]
            email.next_attempt_at = utcnow() + retry_delay(email.attempts)
            email.enqueued_at = None  # the sweep enqueues it when it is due
        return email.status


def sweep_outbox(limit: int = 1000) -> dict[str, int]:
    """Beat's safety net. Returns rows whose worker died (sending for too long) to
    pending, then enqueues due pending rows that have no live task. Commits.

    Returns counts: {"reclaimed": n, "enqueued": m}.
    """
    now = utcnow()
    timeout = timedelta(seconds=current_app.config["MAIL_SENDING_TIMEOUT_SECONDS"])
    with unit_of_work():
        reclaimed = db.session.execute(
            update(Email)
            .where(Email.status == "sending", Email.claimed_at < now - timeout)
            .values(status="pending", enqueued_at=None, last_error="delivery interrupted; retrying")
            .execution_options(synchronize_session=False)
        ).rowcount

    requeue_before = now - timedelta(seconds=current_app.config["OUTBOX_REQUEUE_AFTER_SECONDS"])
    due = select(Email.id).where(
        Email.status == "pending",
        or_(Email.next_attempt_at.is_(None), Email.next_attempt_at <= now),
        or_(Email.enqueued_at.is_(None), Email.enqueued_at < requeue_before),
    )
    if is_postgresql():
        # Two beats (or a beat and a manual sweep) never enqueue the same rows at once.
        due = due.with_for_update(skip_locked=True)
    with unit_of_work():
        ids = list(db.session.scalars(due.order_by(Email.id).limit(limit)))
        if ids:
            db.session.execute(
                update(Email)
                .where(and_(Email.id.in_(ids)))
                .values(enqueued_at=now)
                .execution_options(synchronize_session=False)
            )
            promise(ids)
    return {"reclaimed": reclaimed or 0, "enqueued": len(ids)}


def status_counts() -> dict[tuple[str, str], int]:
    """(kind, status) → number of rows."""
    rows = db.session.execute(select(Email.kind, Email.status, func.count()).group_by(Email.kind, Email.status))
    return {(kind, status): count for kind, status, count in rows}


def oldest_pending_age(now: datetime | None = None) -> timedelta | None:
    """How long the oldest due, undelivered row has been waiting (None: nothing waits)."""
    now = now or utcnow()
    oldest = db.session.scalar(
        select(func.min(Email.created_at)).where(
            Email.status.in_(("pending", "sending")),
            or_(Email.next_attempt_at.is_(None), Email.next_attempt_at <= now),
        )
    )
    return now - oldest if oldest is not None else None


def retry_failed(email_ids: list[int] | None = None) -> list[int]:
    """Return failed rows (all, or those given) to pending for a fresh round of
    attempts, then enqueue them. Commits; returns the ids."""
    query = select(Email.id).where(Email.status == "failed")
    if email_ids:
        query = query.where(Email.id.in_(email_ids))
    with unit_of_work():
        ids = list(db.session.scalars(query))
        if ids:
            db.session.execute(
                update(Email)
                .where(Email.id.in_(ids))
                .values(status="pending", attempts=0, next_attempt_at=None, enqueued_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            promise(ids)
    return ids
