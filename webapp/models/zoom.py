"""Zoom: the shared access token, and each registrant's place in a Zoom session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.types import JSONType, UTCDateTime, utcnow


class ZoomToken(db.Model):
    """The Server-to-Server OAuth access token of one Zoom account, kept in the database
    so that every web and worker process (and the embedded default on SQLite) shares it
    instead of each asking Zoom for its own."""

    __tablename__ = "zoom_tokens"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


ZOOM_REGISTRANT_STATUSES = ("pending", "added", "failed", "cancelling", "cancelled")


class ZoomRegistrant(db.Model):
    """One registration's place in one Zoom session: Zoom's registrant id and the
    personal join link, added by the worker when the registration is confirmed.

    pending: to be added (not before `next_attempt_at`); added: Zoom gave the link;
    failed: Zoom kept failing past the fallback time or refused, the registrant has the
    session's static link and organisers see it; cancelling: to be cancelled in Zoom;
    cancelled: done."""

    __tablename__ = "zoom_registrants"
    __table_args__ = (
        UniqueConstraint("registration_id", "session_id"),
        CheckConstraint(f"status IN {ZOOM_REGISTRANT_STATUSES!r}", name="status"),
        Index("ix_zoom_registrants_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    registrant_id: Mapped[str | None] = mapped_column(String(128))
    join_url: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    added_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<ZoomRegistrant {self.registration_id}/{self.session_id} {self.status}>"


class ZoomWebhookEvent(db.Model):
    """An event Zoom sent to the webhook, kept once (Zoom redelivers what it thinks was
    lost) for the worker to handle."""

    __tablename__ = "zoom_webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    event: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ZoomPresence(db.Model):
    """One participant of a running Zoom session, from ``participant_joined`` and
    ``participant_left`` events: when they last joined and last left (Zoom's times).
    In the session now when they joined after they last left. Each time only moves
    forward, so redelivered and out-of-order events give the same answer (a ``left``
    read before its ``joined`` leaves nobody behind)."""

    __tablename__ = "zoom_presence"
    __table_args__ = (UniqueConstraint("session_id", "participant_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    # Who: Zoom's registrant id, else the participant's UUID, else their address, else
    # Zoom's per-meeting user id, prefixed by which ("r:", "p:", "e:", "u:").
    participant_key: Mapped[str] = mapped_column(String(300))
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
