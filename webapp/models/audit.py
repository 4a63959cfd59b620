"""Audit entries: who did what to which program or registration, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.organisers import Organiser
from webapp.models.types import JSONType, UTCDateTime, utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "participant", "organiser" or "system"
    actor_type: Mapped[str] = mapped_column(String(16))
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("organisers.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organiser: Mapped[Organiser | None] = relationship()
