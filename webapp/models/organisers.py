"""Organisers: the people who log in to manage programs."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from webapp.models.programs import Program

ORGANISER_ROLES = ("admin", "organiser")

# Which programs an organiser (role "organiser") may see and manage. Admins see all.
program_organisers = Table(
    "program_organisers",
    db.metadata,
    Column("program_id", ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True),
    Column("organiser_id", ForeignKey("organisers.id", ondelete="CASCADE"), primary_key=True),
)


class Organiser(db.Model):
    __tablename__ = "organisers"
    __table_args__ = (CheckConstraint(f"role IN {ORGANISER_ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="organiser")
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the login session's identity: changing it signs out every session.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_urlsafe(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    programs: Mapped[list[Program]] = relationship(secondary=program_organisers, back_populates="organisers")

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
