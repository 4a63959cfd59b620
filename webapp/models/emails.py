"""The outbox: one row per email the system has promised to send."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.registrations import Registration
from webapp.models.types import JSONType, UTCDateTime, utcnow

EMAIL_STATUSES = ("pending", "sending", "sent", "failed", "expired")
EMAIL_KINDS = (
    "confirmation",
    "waitlisted",
    "pending",
    "already_registered",
    "cancelled",
    "rejected",
    "reminder",
    "session_updated",
    "session_cancelled",
    "program_cancelled",
    "message",
    "certificate",
)


class Email(db.Model):
    __tablename__ = "emails"
    __table_args__ = (
        CheckConstraint(f"status IN {EMAIL_STATUSES!r}", name="status"),
        Index("ix_emails_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    # Unique: writing the same promise twice is a no-op (reminders, retries, races).
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Kind-specific context (e.g. a session's previous time for an "updated" email).
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    message_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Not before this time (retry backoff). NULL means "now".
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a delivery task was last handed to the broker; the sweep re-enqueues rows
    # whose task seems lost.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    registration: Mapped[Registration | None] = relationship()

    def __repr__(self) -> str:
        return f"<Email {self.id} {self.kind} {self.status}>"
