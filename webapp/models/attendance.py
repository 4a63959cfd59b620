"""Attendance: how long one registrant was in one session, and where that came from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow

# Where the minutes came from: Zoom's participants report (the worker), the webhook's
# live events, a participant report CSV an organiser uploaded, or an organiser's mark.
ATTENDANCE_SOURCES = ("zoom_report", "webhook", "csv", "manual")


class Attendance(db.Model):
    """Minutes one registration spent in one session. One row per (registration,
    session): a later report replaces the minutes rather than adding a second row, so
    reading a report twice gives the same result. Whether that counts as attending is
    decided by `services/attendance.py: attended`, never stored."""

    __tablename__ = "attendances"
    __table_args__ = (
        UniqueConstraint("registration_id", "session_id"),
        CheckConstraint(f"source IN {ATTENDANCE_SOURCES!r}", name="source"),
        CheckConstraint("minutes >= 0", name="minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    minutes: Mapped[int] = mapped_column(default=0)
    source: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Attendance {self.registration_id}/{self.session_id} {self.minutes}m {self.source}>"
