"""Zoom: the shared access token, and each registrant's place in a Zoom session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class ZoomToken(db.Model):
    """The Server-to-Server OAuth access token of one Zoom account, kept in the database
    so that every web and worker process (and the embedded default on SQLite) shares it
    instead of each asking Zoom for its own."""

    __tablename__ = "zoom_tokens"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
