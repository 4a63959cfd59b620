"""Programs (a training program) and their sessions (live webinars)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import JSONType, UTCDateTime, utcnow

if TYPE_CHECKING:
    from webapp.models.organisers import Organiser
    from webapp.models.registrations import Registration

PROGRAM_STATUSES = ("draft", "published", "closed", "cancelled", "archived")
DEFAULT_REMINDER_MINUTES = [24 * 60, 60]
ZOOM_TYPES = ("webinar", "meeting")
# What Rollcall still has to do to a session's Zoom object (`services/zoom/sessions.py`):
# create it; creating (a create was sent and its outcome is not known yet); update it
# (title or times changed); delete it (the session was cancelled).
ZOOM_SYNC_ACTIONS = ("create", "creating", "update", "delete")
# A registrant attended a session when their minutes reach this percent of its length.
DEFAULT_ATTENDANCE_THRESHOLD_PERCENT = 75


class Program(db.Model):
    __tablename__ = "programs"
    __table_args__ = (
        CheckConstraint(f"status IN {PROGRAM_STATUSES!r}", name="status"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),
        CheckConstraint("attendance_threshold_percent BETWEEN 1 AND 100", name="attendance_threshold_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    organiser_name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registration_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None] = mapped_column()
    # Confirmed registrations, kept by database triggers on `registrations` (migration
    # 0005) in the same transaction as the change, so that a registration reads one
    # locked row instead of counting. Code never writes it.
    confirmed_count: Mapped[int] = mapped_column(default=0, server_default="0")
    waitlist_enabled: Mapped[bool] = mapped_column(default=False)
    approval_required: Mapped[bool] = mapped_column(default=False)
    # Percent of a session's length a registrant must attend to count as attended
    # (`services/attendance.py: attended`).
    attendance_threshold_percent: Mapped[int] = mapped_column(
        default=DEFAULT_ATTENDANCE_THRESHOLD_PERCENT, server_default=str(DEFAULT_ATTENDANCE_THRESHOLD_PERCENT)
    )
    # Certificates of attendance for those who attended, sent by an organiser after the
    # last session (`services/certificates`).
    certificates: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Minutes before each session's start at which reminders fall due.
    reminder_minutes: Mapped[list[int]] = mapped_column(JSONType, default=lambda: list(DEFAULT_REMINDER_MINUTES))
    # Extra form questions (issue: organiser console); a list of dicts.
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # The language the program's own text (title, summary, description, session titles)
    # is written in, one of `locales.LANGUAGES`; and its translations, by language code:
    # {"ru": {"title": ..., "summary": ..., "description": ...}} (any of the three).
    # Readers get them through `services/programs/localized.py`.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSONType, default=dict, server_default=text("'{}'"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # Every session, cancelled ones included (they keep their emails' history).
    all_sessions: Mapped[list[ProgramSession]] = relationship(
        back_populates="program", order_by="ProgramSession.starts_at", cascade="all, delete-orphan"
    )
    registrations: Mapped[list[Registration]] = relationship(back_populates="program")
    organisers: Mapped[list[Organiser]] = relationship(secondary="program_organisers", back_populates="programs")

    @property
    def sessions(self) -> list[ProgramSession]:
        """The sessions that will take place (not cancelled), in start order."""
        return [s for s in self.all_sessions if s.cancelled_at is None]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def first_start(self) -> datetime | None:
        return min((s.starts_at for s in self.sessions), default=None)

    @property
    def last_end(self) -> datetime | None:
        return max((s.ends_at for s in self.sessions), default=None)

    def __repr__(self) -> str:
        return f"<Program {self.slug}>"


class ProgramSession(db.Model):
    """One live webinar of a program. Named so as not to be confused with a DB session."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(f"zoom_type IN {ZOOM_TYPES!r}", name="zoom_type"),
        CheckConstraint(f"zoom_sync IS NULL OR zoom_sync IN {ZOOM_SYNC_ACTIONS!r}", name="zoom_sync"),
        Index("ix_sessions_program_id_starts_at", "program_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    join_url: Mapped[str] = mapped_column(String(500), default="")
    passcode: Mapped[str] = mapped_column(String(64), default="")
    zoom_meeting_id: Mapped[str | None] = mapped_column(String(64))
    # What `zoom_meeting_id` names in Zoom: a webinar or a meeting (their APIs differ).
    zoom_type: Mapped[str] = mapped_column(String(16), default="webinar", server_default="webinar")
    # Rollcall created the Zoom object (the editor's "Create in Zoom"): only then does it
    # change its title and times in Zoom, and delete it when the session is cancelled.
    zoom_created: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # What is still to be done in Zoom (ZOOM_SYNC_ACTIONS), NULL when Zoom is in step;
    # tried again at `zoom_sync_next_at` (while "creating": a lease, after which the
    # outcome is unknown and Zoom is searched before creating again); given up at
    # `zoom_sync_failed_at` (Zoom refused) until the organiser retries.
    zoom_sync: Mapped[str | None] = mapped_column(String(16))
    zoom_sync_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    zoom_sync_error: Mapped[str | None] = mapped_column(Text)
    zoom_sync_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    zoom_sync_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    zoom_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A digest of the fields last sent to Zoom (topic, start, duration, zone, agenda): an
    # editor save that changes none of them calls Zoom for nothing.
    zoom_sync_key: Mapped[str | None] = mapped_column(String(64))
    # Zoom said the webinar or meeting ended: the live count stops at this time.
    zoom_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Attendance from Zoom's participants report: when it was last read, and while it
    # was not, the attempts, Zoom's last error and when beat's sweep tries again.
    attendance_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendance_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    attendance_error: Mapped[str | None] = mapped_column(Text)
    attendance_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The title in other languages: {"ru": {"title": ...}}. Kept with the session (not
    # by position in the program), so a session cancelled or added never shifts them.
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSONType, default=dict, server_default=text("'{}'"))
    # Calendar identity: the UID never changes, SEQUENCE rises on every change, so
    # calendars update the event instead of adding a second one.
    ics_uid: Mapped[str] = mapped_column(String(100), unique=True, default=lambda: f"{uuid.uuid4()}@rollcall")
    ics_sequence: Mapped[int] = mapped_column(default=0)
    # When its time or link last changed: reminders that fell due before then are
    # superseded by the "updated" email.
    rescheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    program: Mapped[Program] = relationship(back_populates="all_sessions")

    def __repr__(self) -> str:
        return f"<ProgramSession {self.id} {self.starts_at:%Y-%m-%d %H:%M}>"


class ReminderRun(db.Model):
    """One (session, offset, schedule version) whose reminders have been written to the
    outbox. Lets the scheduler skip work already done; the emails' unique dedupe keys
    are what make it idempotent."""

    __tablename__ = "reminder_runs"
    __table_args__ = (UniqueConstraint("session_id", "minutes", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    minutes: Mapped[int] = mapped_column()
    sequence: Mapped[int] = mapped_column()
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    emails_created: Mapped[int] = mapped_column(default=0)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
