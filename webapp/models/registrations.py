"""A registration: one person in one program."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, Computed, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db, only_on
from webapp.models.types import JSONType, UTCDateTime, utcnow

if TYPE_CHECKING:
    from webapp.models.programs import Program

REGISTRATION_STATUSES = ("pending", "confirmed", "waitlisted", "cancelled", "rejected")
# A stored generated column on PostgreSQL, a virtual one on SQLite (migration 0012). The
# separator is a newline in a plain SQL literal, which both databases read alike.
SEARCH_TEXT = "lower(full_name || '\n' || email_normalized || '\n' || organisation)"


class Registration(db.Model):
    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("program_id", "email_normalized"),
        CheckConstraint(f"status IN {REGISTRATION_STATUSES!r}", name="status"),
        Index("ix_registrations_program_id_status_created_at", "program_id", "status", "created_at"),
        # The attendee list sorts one program's rows by these.
        Index("ix_registrations_program_id_created_at", "program_id", "created_at"),
        Index("ix_registrations_program_id_full_name", "program_id", "full_name"),
        Index("ix_registrations_program_id_country", "program_id", "country"),
        Index("ix_registrations_program_id_organisation", "program_id", "organisation"),
        # Its search matches any part of `search_text`: a trigram index, on PostgreSQL
        # only (migration 0012; `extensions.only_on`).
        Index(
            "ix_registrations_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
            info=only_on("postgresql"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    # Lower-cased, trimmed, NFC: the identity "one person, one registration" compares.
    email_normalized: Mapped[str] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    job_title: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    # Self-service link: the selector finds the row, the whole token is then compared
    # in constant time (so lookup timing reveals nothing about the secret part).
    token_selector: Mapped[str] = mapped_column(String(16), unique=True)
    token: Mapped[str] = mapped_column(String(64))
    # Rises on every status change; part of status emails' dedupe keys.
    revision: Mapped[int] = mapped_column(default=1)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waitlisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When they joined a session (recorded by an organiser, or from Zoom's report).
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the attendee list's search reads (`attendees.conditions`): name, address and
    # organisation, lower-cased by the database, one per line (a search is one line, so
    # it never matches across two). Kept by the database itself: no write can forget it.
    search_text: Mapped[str] = mapped_column(Text, Computed(SEARCH_TEXT), deferred=True)

    program: Mapped[Program] = relationship(back_populates="registrations")

    def __repr__(self) -> str:
        return f"<Registration {self.id} {self.status}>"
