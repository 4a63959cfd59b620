"""Certificates of attendance: one per registration, issued once, with the code that
verifies it and a snapshot of what it certifies."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from webapp.models.registrations import Registration

# A code: 16 characters of Crockford's base32 (80 bits from `secrets`), stored without
# the dashes it is printed with (`services/certificates/codes.py`).
CERTIFICATE_CODE_LENGTH = 16


class Certificate(db.Model):
    """A registrant's certificate of attendance. Issued once (unique per registration):
    sending again never changes its code or makes a second one. What it certifies is
    copied at issue (the name as typed, the program's title in the registrant's language,
    the organiser, the first and last session day in the program's zone, the minutes
    attended), so that the PDF and `/verify/<code>` say the same thing for ever, whatever
    is edited later."""

    __tablename__ = "certificates"
    __table_args__ = (CheckConstraint("minutes >= 0", name="minutes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), unique=True)
    code: Mapped[str] = mapped_column(String(CERTIFICATE_CODE_LENGTH), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    full_name: Mapped[str] = mapped_column(String(200))
    program_title: Mapped[str] = mapped_column(String(200))
    organiser_name: Mapped[str] = mapped_column(String(200), default="")
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column()
    # The registrant's language at issue: the title above is in it, and so is the PDF.
    language: Mapped[str] = mapped_column(String(16), default="en")

    registration: Mapped[Registration] = relationship()

    def __repr__(self) -> str:
        return f"<Certificate {self.id} for {self.registration_id}>"
